"""A training run's folder: its model and data configurations, checkpoints."""

import dataclasses
import os
from typing import Optional, TypeVar

from absl import logging
import tensorflow as tf

from air_tf.config import AIRConfig
from air_tf.datasets import DataConfig
from air_tf.model import AIR

CONFIG_FILE = "config.json"
DATA_CONFIG_FILE = "data.json"
CHECKPOINT_FOLDER = "checkpoints"
_FILES = {AIRConfig: CONFIG_FILE, DataConfig: DATA_CONFIG_FILE}
RunConfig = TypeVar("RunConfig", AIRConfig, DataConfig)


def ensure_config(logdir: str, config: RunConfig) -> None:
  """Records `config` in a new logdir, or checks it matches the recorded one.

  Raises:
    ValueError: the logdir holds a run with a different `config`.
  """
  path = os.path.join(logdir, _FILES[type(config)])
  if tf.io.gfile.exists(path):
    recorded = load_config(logdir, type(config))
    if recorded != config:
      differences = sorted(
          f"{name}: {getattr(recorded, name)} there, {getattr(config, name)} "
          f"asked" for name in recorded.__dataclass_fields__
          if getattr(recorded, name) != getattr(config, name))
      what = "model" if isinstance(config, AIRConfig) else "dataset"
      raise ValueError(f"{logdir} holds a different {what} ("
                       + "; ".join(differences) + "). Use another --logdir "
                       "or the flags it was trained with.")
    return
  tf.io.gfile.makedirs(logdir)
  tf.io.gfile.GFile(path + ".partial", "w").write(config.to_json())
  tf.io.gfile.rename(path + ".partial", path, overwrite=True)


def load_config(logdir: str, kind: type[RunConfig] = AIRConfig) -> RunConfig:
  """The model (or, with `kind=DataConfig`, data) configuration of a run."""
  path = os.path.join(logdir, _FILES[kind])
  if not tf.io.gfile.exists(path):
    raise FileNotFoundError(f"{logdir} has no {_FILES[kind]}: not a training "
                            f"logdir of experiments/train.py.")
  return kind.from_json(tf.io.gfile.GFile(path).read())


def _is_intact(path: str) -> bool:
  """Whether every tensor of the checkpoint at `path` can be read."""
  try:
    reader = tf.train.load_checkpoint(path)
    for name in reader.get_variable_to_shape_map():
      reader.get_tensor(name)
  except (tf.errors.OpError, ValueError, IndexError):
    return False
  return True


def latest_checkpoint(logdir: str) -> Optional[str]:
  """Path of the newest intact checkpoint in a logdir, or None if none.

  A checkpoint that cannot be read in full (a truncated or corrupted file)
  is skipped with a warning, and the one before it is used.
  """
  state = tf.train.get_checkpoint_state(
      os.path.join(logdir, CHECKPOINT_FOLDER))
  for path in reversed(state.all_model_checkpoint_paths if state else []):
    if _is_intact(path):
      return path
    logging.warning("Checkpoint %s is truncated or corrupt; trying the one "
                    "before it.", path)
  return None


def restore_model(logdir: str, max_steps: Optional[int] = None
                  ) -> tuple[AIR, int, str]:
  """The model of the newest intact checkpoint of a logdir.

  Only the model (and the step) are read: optimiser and baseline state are
  left in the file.

  Args:
    logdir: a logdir of experiments/train.py.
    max_steps: run inference for this many steps instead of the trained
      number (no weight depends on it), as the paper's generalisation tests
      do.

  Returns:
    (model, training step, checkpoint path).

  Raises:
    FileNotFoundError: the logdir holds no training run or no intact
      checkpoint.
  """
  config = load_config(logdir)
  if max_steps is not None:
    config = dataclasses.replace(config, max_steps=max_steps)
  path = latest_checkpoint(logdir)
  if path is None:
    raise FileNotFoundError(f"No intact checkpoint in {logdir}.")
  model = AIR(config)
  step = tf.Variable(0, dtype=tf.int64)
  status = tf.train.Checkpoint(model=model, step=step).restore(path)
  model.build()
  status.assert_existing_objects_matched().expect_partial()
  return model, int(step.numpy()), path


def checkpoint_manager(checkpoint: tf.train.Checkpoint, logdir: str,
                       max_to_keep: int = 3) -> tf.train.CheckpointManager:
  return tf.train.CheckpointManager(
      checkpoint, os.path.join(logdir, CHECKPOINT_FOLDER),
      max_to_keep=max_to_keep)


def read_scalars(logdir: str) -> dict[str, dict[int, float]]:
  """Every scalar a run wrote to TensorBoard: tag -> {step: value}.

  TF2 summaries are tensor events; the last value written at a step wins
  (a resumed run rewrites the steps after its checkpoint).
  """
  # pylint: disable=g-import-not-at-top  (TensorBoard only when reading.)
  from tensorboard.backend.event_processing import event_accumulator
  accumulator = event_accumulator.EventAccumulator(
      logdir, size_guidance={event_accumulator.TENSORS: 0})
  accumulator.Reload()
  scalars = {}
  for tag in accumulator.Tags()[event_accumulator.TENSORS]:
    values = {event.step: tf.make_ndarray(event.tensor_proto)
              for event in accumulator.Tensors(tag)}
    if all(value.ndim == 0 for value in values.values()):
      scalars[tag] = {step: float(value) for step, value in values.items()}
  return scalars
