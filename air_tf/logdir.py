"""A training run's folder: this module reads and writes every file in it.

    config.json      the model (`AIRConfig`)
    data.json        the scenes (`datasets.DataConfig`)
    train.json       how it is trained (`training.TrainConfig`)
    launches.jsonl   one line per launch of the training: when, from which
                     step, the code version (git commit, air_tf version),
                     the command line, the CPU and the environment
                     variables that choose TensorFlow's floating-point path
    eval.jsonl       one line per held-out evaluation during training
    checkpoints/     the training state (`tf.train.CheckpointManager`)
    events.*         TensorBoard summaries (training, and `write_hparams`)
"""

import dataclasses
import os
import socket
import subprocess
import sys
import time
from typing import Any, Optional, Sequence, TypeVar

from absl import logging
import tensorflow as tf

import air_tf
from air_tf import files
from air_tf.config import AIRConfig
from air_tf.datasets import DataConfig
from air_tf import models
from air_tf.tabletop_air import TabletopConfig
from air_tf.training import TrainConfig
from air_tf.training import z_pres_prior_prob

CONFIG_FILE = "config.json"
DATA_CONFIG_FILE = "data.json"
TRAIN_CONFIG_FILE = "train.json"
LAUNCHES_FILE = "launches.jsonl"
EVAL_RECORDS_FILE = "eval.jsonl"
CHECKPOINT_FOLDER = "checkpoints"
# Environment variables that change how TensorFlow rounds on a CPU, so that
# one command trains another trajectory (docs/RESULTS.md, issue 13).
FLOATING_POINT_ENVIRONMENT = ("TF_ENABLE_ONEDNN_OPTS", "TF_NUM_INTRAOP_THREADS",
                              "TF_NUM_INTEROP_THREADS", "XLA_FLAGS",
                              "TF_XLA_FLAGS")
TABLETOP_CONFIG_FILE = "tabletop_config.json"
_FILES = {AIRConfig: CONFIG_FILE, TabletopConfig: TABLETOP_CONFIG_FILE,
          DataConfig: DATA_CONFIG_FILE, TrainConfig: TRAIN_CONFIG_FILE}
_WHAT = {AIRConfig: "model", TabletopConfig: "model", DataConfig: "dataset",
         TrainConfig: "training configuration"}
RunConfig = TypeVar("RunConfig", AIRConfig, TabletopConfig, DataConfig,
                    TrainConfig)


def config_differences(recorded: RunConfig, asked: RunConfig) -> list[str]:
  """"field: recorded there, asked" for every field that differs."""
  return sorted(
      f"{field.name}: {getattr(recorded, field.name)} there, "
      f"{getattr(asked, field.name)} asked"
      for field in dataclasses.fields(recorded)
      if getattr(recorded, field.name) != getattr(asked, field.name))


def ensure_config(logdir: str, config: RunConfig,
                  replace: bool = False) -> None:
  """Records `config` in a new logdir, or checks it matches the recorded one.

  Args:
    logdir: the run's folder (created if needed).
    config: an `AIRConfig`, `TabletopConfig`, `DataConfig` or
      `TrainConfig`.
    replace: record `config` even if the run recorded another one.

  Raises:
    ValueError: the logdir holds a run with a different `config`, and not
      `replace`.
  """
  path = os.path.join(logdir, _FILES[type(config)])
  if tf.io.gfile.exists(path):
    recorded = load_config(logdir, type(config))
    if recorded == config:
      return
    differences = "; ".join(config_differences(recorded, config))
    if not replace:
      raise ValueError(f"{logdir} holds a different {_WHAT[type(config)]} ("
                       f"{differences}). Use another --logdir or the flags "
                       f"it was trained with.")
    logging.warning("Replacing the recorded %s of %s: %s",
                    _WHAT[type(config)], logdir, differences)
  tf.io.gfile.makedirs(logdir)
  files.write_atomically(path, config.to_json())


def load_config(logdir: str, kind: type[RunConfig] = AIRConfig) -> RunConfig:
  """The model (or, with `kind`, data or training) configuration of a run."""
  path = os.path.join(logdir, _FILES[kind])
  if not tf.io.gfile.exists(path):
    raise FileNotFoundError(f"{logdir} has no {_FILES[kind]}: not a training "
                            f"logdir of experiments/train.py.")
  return kind.from_json(tf.io.gfile.GFile(path).read())


def load_model_config(logdir: str) -> models.ModelConfig:
  """The model configuration of a run, 2D or table-top."""
  for kind in (AIRConfig, TabletopConfig):
    if tf.io.gfile.exists(os.path.join(logdir, _FILES[kind])):
      return load_config(logdir, kind)
  return load_config(logdir, AIRConfig)  # Raises the missing-file error.


def final_z_pres_prior(logdir: str, step: int) -> float:
  """The prior probability of one more object that the run's training
  schedule reached at `step`: the prior its ELBO is to be scored under."""
  if not tf.io.gfile.exists(os.path.join(logdir, TRAIN_CONFIG_FILE)):
    raise FileNotFoundError(
        f"{logdir} has no {TRAIN_CONFIG_FILE}, so its training prior is "
        f"unknown (runs before air_tf 0.1.0 recorded none): pass "
        f"--z_pres_prior.")
  return float(z_pres_prior_prob(step, load_config(logdir, TrainConfig)))


def _process_start_time() -> float:
  """When this process started (Linux), so that a launch's wall time
  includes the import of TensorFlow; elsewhere, now."""
  try:
    with open("/proc/self/stat") as f:
      start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/stat") as f:
      boot_time = next(int(line.split()[1]) for line in f
                       if line.startswith("btime"))
    return boot_time + start_ticks / os.sysconf("SC_CLK_TCK")
  except (OSError, ValueError, IndexError, StopIteration):
    return time.time()


def _cpu_model() -> Optional[str]:
  """The CPU's model name (Linux); None where it cannot be read."""
  try:
    with open("/proc/cpuinfo") as f:
      return next(line.split(":", 1)[1].strip() for line in f
                  if line.startswith("model name"))
  except (OSError, StopIteration):
    return None


def _git_commit() -> Optional[str]:
  """The commit of the air_tf checkout this code runs from, with "+changes"
  if files differ from it; None outside a git checkout."""
  folder = os.path.dirname(os.path.abspath(air_tf.__file__))
  try:
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder,
                            capture_output=True, text=True, timeout=10,
                            check=True).stdout.strip()
    changes = subprocess.run(["git", "status", "--porcelain",
                              "--untracked-files=no"], cwd=folder,
                             capture_output=True, text=True, timeout=10,
                             check=True).stdout.strip()
  except (OSError, subprocess.SubprocessError):
    return None
  return commit + ("+changes" if changes else "")


def record_launch(logdir: str, start_step: int,
                  argv: Optional[Sequence[str]] = None) -> None:
  """Appends this launch of the training to the run's launch records
  (`argv`: the command line, by default this process's)."""
  tf.io.gfile.makedirs(logdir)
  files.append_json_line(os.path.join(logdir, LAUNCHES_FILE), {
      "time": _process_start_time(), "start_step": start_step,
      "commit": _git_commit(), "air_tf_version": air_tf.__version__,
      "tensorflow_version": tf.__version__, "host": socket.gethostname(),
      "cpu": _cpu_model(),
      "environment": {name: os.environ[name]
                      for name in FLOATING_POINT_ENVIRONMENT
                      if name in os.environ},
      "argv": list(sys.argv if argv is None else argv)})


def read_launches(logdir: str) -> list[dict[str, Any]]:
  """The run's launch records, oldest first."""
  return files.read_json_lines(os.path.join(logdir, LAUNCHES_FILE))


def append_eval_record(logdir: str, record: dict[str, Any]) -> None:
  """Appends one held-out evaluation (step, time, figures)."""
  files.append_json_line(os.path.join(logdir, EVAL_RECORDS_FILE), record)


def read_eval_records(logdir: str) -> list[dict[str, Any]]:
  """The run's held-out evaluations, in the order they were made."""
  return files.read_json_lines(os.path.join(logdir, EVAL_RECORDS_FILE))


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


def restore_model(logdir: str, max_steps: Optional[int] = None,
                  count_threshold: Optional[float] = None,
                  count_by_flips: Optional[bool] = None,
                  count_by_zooms: Optional[bool] = None
                  ) -> tuple[models.Model, int, str]:
  """The model of the newest intact checkpoint of a logdir.

  Only the model (and the step) are read: optimiser and baseline state are
  left in the file.

  Args:
    logdir: a logdir of experiments/train.py.
    max_steps: run inference for this many steps instead of the trained
      number (no weight depends on it), as the paper's generalisation tests
      do.
    count_threshold: count with this threshold on q(z_pres) instead of the
      trained run's (`AIRConfig.count_threshold`; no weight depends on it).
    count_by_flips: count by a vote over the image's mirror images, or by
      its own pass, instead of as the trained run does
      (`AIRConfig.count_by_flips`; no weight depends on it).
    count_by_zooms: whether that vote also counts the image zoomed out and
      in (`AIRConfig.count_by_zooms`; no weight depends on it).

  Returns:
    (model, training step, checkpoint path).

  Raises:
    FileNotFoundError: the logdir holds no training run or no intact
      checkpoint.
    ValueError: `count_threshold`, `count_by_flips` or `count_by_zooms`
      for a model without them (table-top), a threshold outside (0, 1),
      or zooms without the vote.
  """
  config = load_model_config(logdir)
  if max_steps is not None:
    config = dataclasses.replace(config, max_steps=max_steps)
  counting = {name: value for name, value in (
      ("count_threshold", count_threshold),
      ("count_by_flips", count_by_flips),
      ("count_by_zooms", count_by_zooms)) if value is not None}
  if counting:
    if not isinstance(config, AIRConfig):
      raise ValueError(f"{', '.join(counting)} set how the 2D model counts; "
                       f"{logdir} holds a {type(config).__name__} model.")
    config = dataclasses.replace(config, **counting)
  path = latest_checkpoint(logdir)
  if path is None:
    raise FileNotFoundError(f"No intact checkpoint in {logdir}.")
  model = models.make_model(config)
  step = tf.Variable(0, dtype=tf.int64)
  status = tf.train.Checkpoint(model=model, step=step).restore(path)
  # Objectives without a baseline (vimco, enumerate) checkpoint none.
  model.build(baseline=False)
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


def flags_as_hparams(flag_args: Sequence[str]) -> dict[str, Any]:
  """Command-line flags ("--name=value", "--name", "--noname") as
  TensorBoard hyperparameters: name -> bool, int, float or str."""
  hparams = {}
  for arg in flag_args:
    name, has_value, text = arg.lstrip("-").partition("=")
    if not has_value:
      negated = name.startswith("no")
      hparams[name[2:] if negated else name] = not negated
      continue
    for kind in (int, float):
      try:
        hparams[name] = kind(text)
        break
      except ValueError:
        pass
    else:
      hparams[name] = text
  return hparams


def write_hparams(root: str, runs: Sequence[tuple[str, dict[str, Any],
                                                   dict[str, float]]]) -> None:
  """Records a sweep for TensorBoard's HParams dashboard.

  Args:
    root: the sweep's folder (TensorBoard's --logdir); gets the experiment:
      every hyperparameter and metric of the runs.
    runs: (run's logdir under `root`, its hyperparameters, its final
      metrics: tag -> value, None where missing), one per run. Each run's
      logdir gets its hyperparameters and metrics as summaries of step 0.
  """
  # pylint: disable=g-import-not-at-top  (TensorBoard only when writing.)
  from tensorboard.plugins.hparams import api as hparams_api
  names = sorted({name for _, hparams, _ in runs for name in hparams})
  tags = sorted({tag for _, _, metrics in runs for tag in metrics})
  with tf.summary.create_file_writer(root).as_default():
    hparams_api.hparams_config(
        hparams=[hparams_api.HParam(name) for name in names],
        metrics=[hparams_api.Metric(tag) for tag in tags])
  for logdir, hparams, metrics in runs:
    writer = tf.summary.create_file_writer(os.path.join(logdir, "hparams"))
    with writer.as_default():
      hparams_api.hparams(hparams, trial_id=os.path.relpath(logdir, root))
      for tag, value in metrics.items():
        if value is not None:
          tf.summary.scalar(tag, value, step=0)
    writer.close()
