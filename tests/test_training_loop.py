"""The training loop driven in-process: records, resume, divergence."""

import dataclasses

import pytest

from air_tf import logdir
from air_tf import training_loop
from air_tf.datasets import DataConfig
from air_tf.training import TrainConfig

_TRAINING = TrainConfig(batch_size=4, samples_per_image=2, jit_compile=False,
                        num_train_images=16, num_eval_images=8)
_DATA = DataConfig(dataset="sprites")


def _train(path, config, training=_TRAINING, steps=4):
  lines = []
  step = training_loop.train(
      str(path), config, training, _DATA,
      training_loop.Schedule(num_steps=steps, log_every=2, eval_every=4,
                             checkpoint_every=2),
      report=lines.append)
  return step, lines


def test_a_run_trains_logs_evaluates_and_resumes(tmp_path, tiny_config):
  config = dataclasses.replace(tiny_config, canvas_size=(50, 50))
  step, lines = _train(tmp_path, config)
  assert step == 4
  assert [line.split()[1] for line in lines if "min left" in line] == [
      "2/4", "4/4"]
  assert lines[-1].startswith("step       4  held-out count accuracy")
  assert [r["step"] for r in logdir.read_eval_records(str(tmp_path))] == [4]
  assert logdir.load_config(str(tmp_path), TrainConfig) == _TRAINING
  # Finished: a second launch trains nothing and says so by returning None.
  assert _train(tmp_path, config) == (None, [])
  step, _ = _train(tmp_path, config, steps=6)  # More steps: resumed.
  assert step == 6
  assert [l["start_step"] for l in logdir.read_launches(str(tmp_path))] == [
      0, 4, 4]


def test_a_changed_configuration_is_a_run_error(tmp_path, tiny_config):
  config = dataclasses.replace(tiny_config, canvas_size=(50, 50))
  _train(tmp_path, config, steps=2)
  with pytest.raises(training_loop.RunError, match="learning_rate"):
    _train(tmp_path, config, dataclasses.replace(_TRAINING,
                                                           learning_rate=1.0))


def test_diverging_updates_stop_the_run(tmp_path, tiny_config):
  config = dataclasses.replace(tiny_config, canvas_size=(50, 50))
  training = dataclasses.replace(_TRAINING, learning_rate=1e30)
  with pytest.raises(training_loop.Diverged, match="updates in a row"):
    training_loop.train(
        str(tmp_path), config, training, _DATA,
        training_loop.Schedule(num_steps=50, max_nonfinite_in_a_row=3),
        report=lambda line: None)


def test_a_schedule_refuses_zero_intervals():
  with pytest.raises(ValueError, match="eval_every must be >= 1, got 0"):
    training_loop.Schedule(eval_every=0)
