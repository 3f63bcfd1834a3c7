"""A logdir's configuration and checkpoints, corrupt ones included."""

import dataclasses
import logging
import os

import pytest
import tensorflow as tf

from air_tf import logdir
from air_tf.config import AIRConfig
from air_tf.datasets import DataConfig
from air_tf.model import AIR


def _save_steps(path, steps, config):
  model = AIR(config)
  model.build()
  step = tf.Variable(0, dtype=tf.int64)
  checkpoint = tf.train.Checkpoint(model=model, step=step)
  manager = logdir.checkpoint_manager(checkpoint, str(path))
  for value in steps:
    step.assign(value)
    manager.save(checkpoint_number=value)
  return manager


def test_newest_checkpoint_is_restored(tmp_path, tiny_config):
  logdir.ensure_config(str(tmp_path), tiny_config)
  _save_steps(tmp_path, [10, 20], tiny_config)
  model, step, path = logdir.restore_model(str(tmp_path))
  assert step == 20 and path.endswith("-20")
  assert model.config == tiny_config
  # More inference steps than trained: the same weights, a longer loop.
  longer, _, _ = logdir.restore_model(str(tmp_path), max_steps=5)
  assert longer.config.max_steps == 5
  for trained, reused in zip(model.variables, longer.variables):
    tf.debugging.assert_equal(trained, reused)


@pytest.mark.parametrize("damage", ["truncate", "garble"])
def test_a_corrupt_newest_checkpoint_falls_back_to_the_one_before(
    tmp_path, tiny_config, damage, caplog):
  manager = _save_steps(tmp_path, [10, 20], tiny_config)
  newest = manager.latest_checkpoint
  data_file = newest + ".data-00000-of-00001"
  size = os.path.getsize(data_file)
  if damage == "truncate":
    with open(data_file, "r+b") as f:
      f.truncate(size // 2)
  else:
    with open(newest + ".index", "r+b") as f:
      f.write(os.urandom(64))
  with caplog.at_level(logging.WARNING):
    assert logdir.latest_checkpoint(str(tmp_path)).endswith("-10")
  assert "truncated or corrupt" in caplog.text


def test_no_intact_checkpoint_is_a_clear_error(tmp_path, tiny_config):
  logdir.ensure_config(str(tmp_path), tiny_config)
  assert logdir.latest_checkpoint(str(tmp_path)) is None
  with pytest.raises(FileNotFoundError, match="No intact checkpoint"):
    logdir.restore_model(str(tmp_path))


def test_logdir_rejects_a_different_model(tmp_path):
  config = AIRConfig()
  logdir.ensure_config(str(tmp_path), config)
  logdir.ensure_config(str(tmp_path), config)  # Same model: fine.
  assert logdir.load_config(str(tmp_path)) == config
  with pytest.raises(ValueError, match="z_what_size: 50 there, 10 asked"):
    logdir.ensure_config(str(tmp_path),
                         dataclasses.replace(config, z_what_size=10))


def test_logdir_rejects_a_different_dataset(tmp_path):
  data = DataConfig(name="sprites", counts=(0, 1))
  logdir.ensure_config(str(tmp_path), data)
  logdir.ensure_config(str(tmp_path), data)
  assert logdir.load_config(str(tmp_path), DataConfig) == data
  with pytest.raises(ValueError, match="different dataset.*name: sprites "
                     "there, multi_mnist asked"):
    logdir.ensure_config(str(tmp_path), DataConfig())


def test_missing_config_is_reported(tmp_path):
  with pytest.raises(FileNotFoundError, match="not a training logdir"):
    logdir.load_config(str(tmp_path))


def test_scalars_are_read_back_as_written(tmp_path):
  writer = tf.summary.create_file_writer(str(tmp_path))
  with writer.as_default():
    for step in (10, 20):
      tf.summary.scalar("train/elbo", 100.0 + step, step=step)
    tf.summary.image("eval/picture", tf.zeros([1, 4, 4, 1]), step=10)
  writer.flush()
  assert logdir.read_scalars(str(tmp_path)) == {
      "train/elbo": {10: 110.0, 20: 120.0}}
