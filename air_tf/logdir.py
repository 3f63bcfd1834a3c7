"""A training run's folder: its model configuration and checkpoints."""

import os

import tensorflow as tf

from air_tf.config import AIRConfig

CONFIG_FILE = "config.json"
CHECKPOINT_FOLDER = "checkpoints"


def ensure_config(logdir: str, config: AIRConfig) -> None:
  """Records `config` in a new logdir, or checks it matches the recorded one.

  Raises:
    ValueError: the logdir holds a run of a different model.
  """
  path = os.path.join(logdir, CONFIG_FILE)
  if tf.io.gfile.exists(path):
    recorded = load_config(logdir)
    if recorded != config:
      differences = sorted(
          f"{name}: {getattr(recorded, name)} there, {getattr(config, name)} "
          f"asked" for name in recorded.__dataclass_fields__
          if getattr(recorded, name) != getattr(config, name))
      raise ValueError(f"{logdir} holds a different model ("
                       + "; ".join(differences) + "). Use another --logdir "
                       "or the flags it was trained with.")
    return
  tf.io.gfile.makedirs(logdir)
  tf.io.gfile.GFile(path + ".partial", "w").write(config.to_json())
  tf.io.gfile.rename(path + ".partial", path, overwrite=True)


def load_config(logdir: str) -> AIRConfig:
  """The model configuration a logdir was trained with."""
  path = os.path.join(logdir, CONFIG_FILE)
  if not tf.io.gfile.exists(path):
    raise FileNotFoundError(f"{logdir} has no {CONFIG_FILE}: not a training "
                            f"logdir of experiments/train.py.")
  return AIRConfig.from_json(tf.io.gfile.GFile(path).read())


def latest_checkpoint(logdir: str) -> str:
  """Path of the newest checkpoint in a logdir.

  Raises:
    FileNotFoundError: the logdir holds no checkpoint.
  """
  path = tf.train.latest_checkpoint(os.path.join(logdir, CHECKPOINT_FOLDER))
  if path is None:
    raise FileNotFoundError(f"No checkpoint in {logdir}.")
  return path


def checkpoint_manager(checkpoint: tf.train.Checkpoint, logdir: str,
                       max_to_keep: int = 3) -> tf.train.CheckpointManager:
  return tf.train.CheckpointManager(
      checkpoint, os.path.join(logdir, CHECKPOINT_FOLDER),
      max_to_keep=max_to_keep)
