"""A run's folder: configurations, records, checkpoints (corrupt ones
included), TensorBoard scalars and hyperparameters."""

import dataclasses
import logging
import os
import time

import pytest
import tensorflow as tf
from tensorboard.plugins.hparams import metadata
from tensorboard.plugins.hparams import plugin_data_pb2

import air_tf
from air_tf import logdir
from air_tf.config import AIRConfig
from air_tf.tabletop_air import TabletopConfig
from air_tf.datasets import DataConfig
from air_tf.model import AIR
from air_tf.training import TrainConfig


def _save_steps(path, steps, config, baseline=True):
  model = AIR(config)
  model.build(baseline=baseline)
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
  # Another count threshold: the same weights, another decision rule.
  stricter, _, _ = logdir.restore_model(str(tmp_path), count_threshold=0.9)
  assert stricter.config == dataclasses.replace(tiny_config,
                                                count_threshold=0.9)
  for trained, reused in zip(model.variables, stricter.variables):
    tf.debugging.assert_equal(trained, reused)
  # Counting by the image's own pass: the same weights again.
  own, _, _ = logdir.restore_model(str(tmp_path), count_by_flips=False)
  assert own.config == dataclasses.replace(tiny_config, count_by_flips=False)
  for trained, reused in zip(model.variables, own.variables):
    tf.debugging.assert_equal(trained, reused)


def test_counting_options_for_a_table_top_run_are_refused(tmp_path):
  logdir.ensure_config(str(tmp_path), TabletopConfig(image_size=16))
  with pytest.raises(ValueError, match="how the 2D model counts"):
    logdir.restore_model(str(tmp_path), count_threshold=0.1)
  with pytest.raises(ValueError, match="how the 2D model counts"):
    logdir.restore_model(str(tmp_path), count_by_flips=False)


def test_a_run_trained_without_a_baseline_is_restored(tmp_path, tiny_config):
  # VIMCO and the enumerated ELBO train no baseline network.
  logdir.ensure_config(str(tmp_path), tiny_config)
  _save_steps(tmp_path, [10], tiny_config, baseline=False)
  model, step, _ = logdir.restore_model(str(tmp_path))
  assert step == 10 and model.config == tiny_config


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
  data = DataConfig(dataset="sprites", counts=(0, 1))
  logdir.ensure_config(str(tmp_path), data)
  logdir.ensure_config(str(tmp_path), data)
  assert logdir.load_config(str(tmp_path), DataConfig) == data
  with pytest.raises(ValueError, match="different dataset.*dataset: sprites "
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


def test_training_configuration_round_trips_and_a_change_is_refused(tmp_path):
  config = TrainConfig(learning_rate=1e-4, z_pres_prior=1e-3,
                       z_pres_prior_end=1e-5, z_pres_prior_anneal_steps=100,
                       num_train_images=500, jit_compile=False)
  logdir.ensure_config(str(tmp_path), config)
  assert logdir.load_config(str(tmp_path), TrainConfig) == config
  changed = dataclasses.replace(config, learning_rate=3e-4, seed=2)
  with pytest.raises(ValueError, match="different training configuration "
                     r"\(learning_rate: 0.0001 there, 0.0003 asked; seed: 0 "
                     r"there, 2 asked\)"):
    logdir.ensure_config(str(tmp_path), changed)
  logdir.ensure_config(str(tmp_path), changed, replace=True)
  assert logdir.load_config(str(tmp_path), TrainConfig) == changed


def test_final_prior_follows_the_recorded_schedule(tmp_path):
  logdir.ensure_config(str(tmp_path), TrainConfig(
      z_pres_prior=1e-2, z_pres_prior_end=1e-4,
      z_pres_prior_anneal_steps=100))
  assert logdir.final_z_pres_prior(str(tmp_path), 0) == pytest.approx(1e-2)
  assert logdir.final_z_pres_prior(str(tmp_path), 50) == pytest.approx(1e-3)
  assert logdir.final_z_pres_prior(str(tmp_path), 10**6) == pytest.approx(
      1e-4)


def test_final_prior_of_a_run_without_a_record_asks_for_the_flag(tmp_path):
  with pytest.raises(FileNotFoundError, match="pass --z_pres_prior"):
    logdir.final_z_pres_prior(str(tmp_path), 0)


def test_launches_record_when_where_and_which_code(tmp_path, monkeypatch):
  monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
  monkeypatch.delenv("TF_NUM_INTRAOP_THREADS", raising=False)
  before = time.time()
  logdir.record_launch(str(tmp_path), 0, argv=["train.py", "--seed=1"])
  logdir.record_launch(str(tmp_path), 300, argv=["train.py"])
  first, second = logdir.read_launches(str(tmp_path))
  # The process started before this test did.
  assert first["time"] <= before and first["time"] > before - 24 * 3600
  assert (first["start_step"], second["start_step"]) == (0, 300)
  assert first["argv"] == ["train.py", "--seed=1"]
  assert first["air_tf_version"] == air_tf.__version__
  assert first["tensorflow_version"] == tf.__version__
  # The variables that choose the floating-point path, only those set.
  assert first["environment"]["TF_ENABLE_ONEDNN_OPTS"] == "0"
  assert "TF_NUM_INTRAOP_THREADS" not in first["environment"]
  if os.path.exists("/proc/cpuinfo"):
    assert first["cpu"]
  checkout = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  if os.path.exists(os.path.join(checkout, ".git")):
    assert len(first["commit"].split("+")[0]) == 40
  else:
    assert first["commit"] is None


def test_eval_records_are_read_back_in_order(tmp_path):
  for step in (1000, 2000):
    logdir.append_eval_record(str(tmp_path), {"step": step})
  assert [r["step"] for r in logdir.read_eval_records(str(tmp_path))] == [
      1000, 2000]


def test_flags_become_typed_hyperparameters():
  assert logdir.flags_as_hparams([
      "--num_steps=5000", "--learning_rate=3e-4", "--nodair", "--dair_x",
      "--layout=pyro"]) == {"num_steps": 5000, "learning_rate": 3e-4,
                            "dair": False, "dair_x": True, "layout": "pyro"}


def test_hparams_are_written_for_tensorboard(tmp_path):
  runs = [(str(tmp_path / f"seed_{seed}"), {"seed": seed, "dair": True},
           {"final/count_accuracy": 0.9 + seed / 100, "final/minutes": None})
          for seed in (0, 1)]
  logdir.write_hparams(str(tmp_path), runs)
  experiment = _summaries(str(tmp_path))
  assert metadata.EXPERIMENT_TAG in experiment
  content = plugin_data_pb2.HParamsPluginData.FromString(
      experiment[metadata.EXPERIMENT_TAG].metadata.plugin_data.content)
  assert sorted(h.name for h in content.experiment.hparam_infos) == [
      "dair", "seed"]
  assert [m.name.tag for m in content.experiment.metric_infos] == [
      "final/count_accuracy", "final/minutes"]
  for run_logdir, _, metrics in runs:
    session = _summaries(os.path.join(run_logdir, "hparams"))
    start = plugin_data_pb2.HParamsPluginData.FromString(
        session[metadata.SESSION_START_INFO_TAG].metadata.plugin_data.content)
    assert start.session_start_info.hparams["seed"].number_value == int(
        run_logdir[-1])
    assert logdir.read_scalars(os.path.join(run_logdir, "hparams")) == {
        "final/count_accuracy": {0: pytest.approx(
            metrics["final/count_accuracy"])}}


def _summaries(folder):
  """tag -> the last summary value of that tag in a folder's event files."""
  values = {}
  for name in sorted(os.listdir(folder)):
    if name.startswith("events."):
      for event in tf.compat.v1.train.summary_iterator(
          os.path.join(folder, name)):
        for value in event.summary.value:
          values[value.tag] = value
  return values
