"""Training raises the ELBO, and a resumed run equals an uninterrupted one."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from air_tf import scenes
from air_tf.model import AIR
from air_tf.training import TrainConfig, Trainer, learning_rate, z_pres_prior_prob

CONFIG = TrainConfig(batch_size=8, learning_rate=3e-3,
                     baseline_learning_rate=1e-2, z_pres_prior=0.5,
                     z_pres_prior_end=0.05, z_pres_prior_anneal_steps=10,
                     seed=3, jit_compile=False)


def _images():
  digits = np.zeros([4, 6, 6], np.uint8)
  digits[:, 1:5, 2:4] = 255
  placed = scenes.scatter_objects(digits, 8, seed=0, canvas_size=16)
  return tf.constant(placed.float_images())


def _variables(trainer):
  return [v.numpy() for v in trainer.checkpoint().model.variables]


@pytest.fixture(scope="module")
def interrupted_and_resumed(tiny_config, tmp_path_factory):
  """Trains 10 steps, saves, trains 30 more; a fresh trainer resumes."""
  tf.random.set_seed(0)  # Initial weights.
  images = _images()
  trainer = Trainer(AIR(tiny_config), CONFIG)
  elbo_before = float(tf.reduce_mean(
      trainer.model(images, 0.05, seed=tf.constant([0, 0])).elbo))
  for _ in range(10):
    trainer.train_step(images)
  path = trainer.checkpoint().save(str(tmp_path_factory.mktemp("ckpt") / "c"))
  logs = [trainer.train_step(images) for _ in range(30)]
  resumed = Trainer(AIR(tiny_config), CONFIG)
  resumed.restore(path)
  restored_step = int(resumed.step)
  for _ in range(30):
    resumed.train_step(images)
  elbo_after = float(tf.reduce_mean(
      trainer.model(images, 0.05, seed=tf.constant([0, 0])).elbo))
  return (trainer, resumed, restored_step, logs, elbo_before, elbo_after)


def test_training_raises_the_elbo(interrupted_and_resumed):
  *_, elbo_before, elbo_after = interrupted_and_resumed
  # A perfect 16x16 reconstruction scores ~73 nats.
  assert elbo_after > elbo_before + 5, (elbo_before, elbo_after)


def test_resume_continues_from_the_saved_step(interrupted_and_resumed):
  trainer, resumed, restored_step, *_ = interrupted_and_resumed
  assert restored_step == 10
  assert int(trainer.step) == int(resumed.step) == 40


def test_resumed_run_equals_uninterrupted(interrupted_and_resumed):
  trainer, resumed, *_ = interrupted_and_resumed
  for a, b in zip(_variables(trainer), _variables(resumed)):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_logs_are_finite_scalars(interrupted_and_resumed):
  _, _, _, logs, *_ = interrupted_and_resumed
  for name, value in logs[-1].items():
    assert value.shape == () and np.isfinite(value), name
  # q(z_pres_i = 1) of each step, where it was asked.
  assert all(0 <= logs[-1][f"q_pres_step_{i}"] <= 1 for i in range(3))
  np.testing.assert_allclose(logs[-1]["z_pres_prior"], 0.05, rtol=1e-5)


def test_prior_anneals_log_linearly():
  values = [float(z_pres_prior_prob(step, CONFIG)) for step in (0, 5, 10, 99)]
  np.testing.assert_allclose(values, [0.5, np.sqrt(0.5 * 0.05), 0.05, 0.05],
                             rtol=1e-5)


def test_learning_rate_holds_then_decays_log_linearly():
  config = TrainConfig(learning_rate=1e-3, learning_rate_end=1e-5,
                       learning_rate_decay_start=100,
                       learning_rate_decay_steps=50)
  values = [float(learning_rate(step, config))
            for step in (0, 100, 125, 150, 1000)]
  np.testing.assert_allclose(values, [1e-3, 1e-3, 1e-4, 1e-5, 1e-5],
                             rtol=1e-5)
  default = [float(learning_rate(step, TrainConfig()))
             for step in (7, 10000, 15000, 20000, 40000)]
  np.testing.assert_allclose(default, [3e-4, 3e-4, np.sqrt(3e-4 * 3e-5),
                                       3e-5, 3e-5], rtol=1e-5)


def test_the_optimiser_steps_with_the_scheduled_learning_rate(tiny_config):
  tf.random.set_seed(0)
  decayed = dataclasses.replace(CONFIG, learning_rate_end=1e-4,
                                learning_rate_decay_start=0,
                                learning_rate_decay_steps=1)
  trainer = Trainer(AIR(tiny_config), decayed)
  first = trainer.train_step(_images())
  second = trainer.train_step(_images())
  np.testing.assert_allclose([first["learning_rate"],
                              second["learning_rate"]], [3e-3, 1e-4],
                             rtol=1e-5)
  model_variables = lambda: [v.numpy() for v in trainer.model.model_variables]
  before = model_variables()
  trainer.train_step(_images())
  # Adam moves each weight by at most about the learning rate (the
  # baseline has its own).
  largest = max(np.abs(a - b).max() for a, b in zip(model_variables(),
                                                     before))
  assert 5e-5 < largest < 5e-4


def test_bad_training_settings_are_rejected():
  with pytest.raises(ValueError, match="z_pres_prior must be in"):
    TrainConfig(z_pres_prior=1.0)
  with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
    TrainConfig(batch_size=0)
  with pytest.raises(ValueError, match="baseline_learning_rate must be > 0"):
    TrainConfig(baseline_learning_rate=0.0)
  with pytest.raises(ValueError, match="num_train_images must be >= 1"):
    TrainConfig(num_train_images=0)
  with pytest.raises(ValueError, match="seed must be >= 0"):
    TrainConfig(seed=-1)
  with pytest.raises(ValueError, match="objective must be one of"):
    TrainConfig(objective="iwae")
  for objective in ("vimco", "rws"):
    with pytest.raises(ValueError, match=f"{objective} objective needs"):
      TrainConfig(objective=objective, samples_per_image=1)
  with pytest.raises(ValueError, match="relaxed_temperature must be > 0"):
    TrainConfig(relaxed_temperature=0.0)
  with pytest.raises(ValueError, match="presence_warmup_steps must be >= 0"):
    TrainConfig(presence_warmup_steps=-1)
  with pytest.raises(ValueError, match="sleep_weight must be >= 0"):
    TrainConfig(sleep_weight=-1.0)
  with pytest.raises(ValueError, match="sleep phase .* 'elbo' objective"):
    TrainConfig(sleep_weight=1.0, objective="vimco", samples_per_image=2)


# VIMCO needs 100 steps, the wake phase 150 (it starts slower).
@pytest.mark.parametrize("objective, steps", [("vimco", 100), ("rws", 150)])
def test_k_sample_objectives_raise_the_bound_without_a_baseline(
    tiny_config, objective, steps):
  tf.random.set_seed(0)
  images = _images()
  config = dataclasses.replace(CONFIG, objective=objective,
                               samples_per_image=4)
  trainer = Trainer(AIR(tiny_config), config)

  def bound():
    output = trainer.model(tf.repeat(images, 16, axis=0), 0.05,
                           seed=tf.constant([5, 5]))
    log_weight = tf.reshape(output.log_weight, [-1, 16])
    return float(tf.reduce_mean(tf.reduce_logsumexp(log_weight, 1)))

  before = bound()
  for _ in range(steps):
    logs = trainer.train_step(images)
  # 16x16 scenes: ~73 nats when perfect.
  assert bound() > before + 2, (before, bound())
  assert all(np.isfinite(float(value)) for value in logs.values())
  if objective == "rws":  # Its signal: the effective sample size of 4.
    assert 1.0 <= float(logs["signal_mean"]) <= 4.0
  assert not any("baseline" in variable.name
                 for variable in trainer.model.trainable_variables)


@pytest.mark.parametrize("objective", ["enumerate", "relaxed"])
def test_pathwise_objectives_raise_their_elbo_without_a_baseline(
    tiny_config, objective):
  tf.random.set_seed(0)
  images = _images()
  config = dataclasses.replace(CONFIG, objective=objective)
  trainer = Trainer(AIR(tiny_config), config)

  def elbo():
    model, repeated, seed = (trainer.model, tf.repeat(images, 8, axis=0),
                             tf.constant([5, 5]))
    output = (model.enumerate_counts(repeated, 0.05, seed)
              if objective == "enumerate" else
              model.relaxed(repeated, 0.05, seed, config.relaxed_temperature))
    return float(tf.reduce_mean(output.elbo))

  before = elbo()
  for _ in range(40):
    logs = trainer.train_step(images)
  assert elbo() > before + 5, (before, elbo())
  assert all(np.isfinite(float(value)) for value in logs.values())
  assert 0.0 <= float(logs["mean_count"]) <= tiny_config.max_steps
  assert not any("baseline" in variable.name
                 for variable in trainer.model.trainable_variables)


def test_the_sleep_phase_changes_nothing_before_its_start(tiny_config):
  images = _images()

  def trained(config):
    """The variables after steps 1, 2 and 3, and the logs."""
    tf.random.set_seed(0)
    trainer = Trainer(AIR(tiny_config), config)
    variables, logs = [], []
    for _ in range(3):
      logs.append(trainer.train_step(images))
      variables.append(_variables(trainer))
    return variables, logs

  plain, _ = trained(CONFIG)
  # The sleep phase starts at step index 2, the third step.
  dreaming, logs = trained(
      dataclasses.replace(CONFIG, sleep_weight=1.0, sleep_start_step=2))
  for before_start in range(2):
    for a, b in zip(plain[before_start], dreaming[before_start]):
      np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
  assert any(not np.allclose(a, b) for a, b in zip(plain[2], dreaming[2]))
  assert all(np.isfinite(float(log["sleep_loss"])) for log in logs)


def test_non_finite_updates_are_skipped_and_counted(tiny_config):
  trainer = Trainer(AIR(tiny_config), CONFIG)
  # Adam's slots exist before the first step, which so is traced once.
  assert len(trainer.optimizer.m) == len(trainer.model.model_variables)
  images = _images()
  trainer.train_step(images)
  before = _variables(trainer)
  poisoned = tf.tensor_scatter_nd_update(images, [[0, 3, 3]], [np.nan])
  for in_a_row in (1, 2):
    logs = trainer.train_step(poisoned)
    assert int(trainer.nonfinite_in_a_row) == in_a_row
  assert int(logs["skipped_updates"]) == 2 and int(trainer.step) == 3
  for a, b in zip(before, _variables(trainer)):
    np.testing.assert_array_equal(a, b)
  assert np.all(np.isfinite(trainer.normalizer.mean))
  trainer.train_step(images)
  assert int(trainer.nonfinite_in_a_row) == 0
  assert int(trainer.skipped_updates) == 2
  assert any(not np.array_equal(a, b)
             for a, b in zip(before, _variables(trainer)))
