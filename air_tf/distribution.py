"""Training on several devices or machines: `tf.distribute` strategies by
name, the batch split across their replicas, and which process writes.

"mirrored" replicates the step on the devices of one machine (its GPUs, or
its logical CPUs, `split_cpu`); "multi_worker" on every device of several
processes or hosts, as the `TF_CONFIG` environment variable describes them
(https://www.tensorflow.org/guide/distributed_training). Each replica
computes the gradients of its equal part of the batch, drawing what that
part would draw in the whole batch, and `training.Trainer` applies their
mean once; so any number of replicas trains like one device on the same
batch, up to rounding.
"""

import dataclasses
import json
import os
from typing import Optional

import tensorflow as tf

STRATEGIES = ("none", "mirrored", "multi_worker")


def split_cpu(num_devices: int) -> None:
  """Splits the CPU into `num_devices` logical devices (to try replicas
  on a machine without accelerators). Must come before TensorFlow first
  uses a device.

  Raises:
    ValueError: `num_devices` < 1, or TensorFlow has already set its
      devices up.
  """
  if num_devices < 1:
    raise ValueError(f"The CPU splits into >= 1 devices, got {num_devices}.")
  try:
    tf.config.set_logical_device_configuration(
        tf.config.list_physical_devices("CPU")[0],
        [tf.config.LogicalDeviceConfiguration()] * num_devices)
  except RuntimeError as error:
    raise ValueError(f"The CPU can only be split before TensorFlow starts "
                     f"using it: {error}") from error


def _check_tf_config() -> None:
  """Raises a ValueError that says what is wrong with `TF_CONFIG`."""
  text = os.environ.get("TF_CONFIG")
  if not text:
    raise ValueError("--strategy=multi_worker needs the TF_CONFIG "
                     "environment variable, e.g. {\"cluster\": {\"worker\": "
                     "[\"host1:port\", \"host2:port\"]}, \"task\": "
                     "{\"type\": \"worker\", \"index\": 0}}.")
  try:
    config = json.loads(text)
  except json.JSONDecodeError as error:
    raise ValueError(f"TF_CONFIG is not JSON ({error}): {text!r}.") from None
  cluster = config.get("cluster") if isinstance(config, dict) else None
  task = config.get("task") if isinstance(config, dict) else None
  if not isinstance(cluster, dict) or not cluster or not all(
      isinstance(addresses, list) and addresses and
      all(isinstance(address, str) for address in addresses)
      for addresses in cluster.values()):
    raise ValueError(f"TF_CONFIG's \"cluster\" must map job names to lists "
                     f"of \"host:port\" addresses, got {cluster!r}.")
  if (not isinstance(task, dict) or task.get("type") not in cluster or
      not isinstance(task.get("index"), int) or
      not 0 <= task["index"] < len(cluster[task["type"]])):
    raise ValueError(f"TF_CONFIG's \"task\" must name a job of the cluster "
                     f"({sorted(cluster)}) and an index into its addresses, "
                     f"got {task!r}.")


@dataclasses.dataclass(frozen=True)
class Devices:
  """Where training runs. Not recorded with a run: any number of replicas
  trains like one device, and a run may resume on others.

  Attributes:
    strategy: replicas that share each step's batch: none (this process's
      default device, a GPU if there is one), mirrored (every GPU of this
      machine, or every CPU device of `cpu_devices`), multi_worker (every
      process of the cluster in TF_CONFIG, each started with the same
      flags).
    cpu_devices: split the CPU into this many logical devices, for
      mirrored on a machine without GPUs.
  """
  strategy: str = "none"
  cpu_devices: int = 1

  def __post_init__(self):
    if self.strategy not in STRATEGIES:
      raise ValueError(f"strategy must be one of {STRATEGIES}, got "
                       f"{self.strategy!r}.")
    if self.cpu_devices < 1:
      raise ValueError(f"cpu_devices must be >= 1, got {self.cpu_devices}.")


def make_strategy(devices: Devices) -> Optional[tf.distribute.Strategy]:
  """The strategy `devices` names, the CPU split first if asked (so this
  must come before TensorFlow first uses a device); None for "none".

  "mirrored" uses every GPU, or without one, every logical CPU.

  Raises:
    ValueError: a CPU that can no longer be split, or a missing or
      malformed `TF_CONFIG` for "multi_worker".
  """
  if devices.cpu_devices > 1:
    split_cpu(devices.cpu_devices)
  if devices.strategy == "none":
    return None
  if devices.strategy == "mirrored":
    local = (tf.config.list_logical_devices("GPU") or
             tf.config.list_logical_devices("CPU"))
    return tf.distribute.MirroredStrategy([device.name for device in local])
  _check_tf_config()
  return tf.distribute.MultiWorkerMirroredStrategy()


def is_chief(strategy: Optional[tf.distribute.Strategy]) -> bool:
  """Whether this process writes the run's checkpoints, summaries and
  records: the chief, or worker 0 of a cluster without one."""
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not resolver.task_type:
    return True
  if resolver.task_type == "chief":
    return True
  has_chief = "chief" in resolver.cluster_spec().as_dict()
  return (resolver.task_type == "worker" and resolver.task_id == 0 and
          not has_chief)


def check_batch(strategy: Optional[tf.distribute.Strategy],
                batch_size: int) -> None:
  """Raises a ValueError unless `batch_size` splits equally across the
  replicas."""
  replicas = strategy.num_replicas_in_sync if strategy else 1
  if batch_size % replicas:
    raise ValueError(f"batch_size {batch_size} does not split across "
                     f"{replicas} replicas: it must be a multiple of "
                     f"{replicas}.")


def split_batch(strategy: Optional[tf.distribute.Strategy],
                images: tf.Tensor):
  """Each replica's part of a `[B, ...]` batch, in order: replica r gets
  images [r B / R, (r + 1) B / R). Without a strategy, the batch."""
  if strategy is None:
    return images
  size = images.shape[0] // strategy.num_replicas_in_sync

  def part(context):
    first = context.replica_id_in_sync_group * size
    return images[first:first + size]

  return strategy.experimental_distribute_values_from_function(part)
