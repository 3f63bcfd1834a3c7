"""Tests of air_tf.adam."""

import numpy as np
import pytest
import sonnet as snt
import tensorflow as tf

from air_tf.adam import ElementwiseStepAdam
from air_tf.model import AIR
from air_tf.training import TrainConfig, Trainer
from conftest import variable_named

LEARNING_RATE = 1e-2


def _steps(optimizer, gradients):
  """The deltas of a `[len(gradients[0])]` variable under `gradients`."""
  variable = tf.Variable(tf.zeros_like(gradients[0]))
  deltas = []
  for gradient in gradients:
    before = variable.numpy()
    optimizer.apply([tf.constant(gradient)], [variable])
    deltas.append(before - variable.numpy())
  return np.array(deltas)


def test_elements_learning_from_the_first_step_step_as_sonnets_adam():
  gradients = np.random.default_rng(0).normal(size=[20, 5]).astype(np.float32)
  np.testing.assert_allclose(
      _steps(ElementwiseStepAdam(LEARNING_RATE), gradients),
      _steps(snt.optimizers.Adam(LEARNING_RATE), gradients), rtol=1e-5,
      atol=1e-9)


def test_a_late_element_steps_as_adam_started_at_its_first_gradient():
  rng = np.random.default_rng(1)
  late = rng.normal(size=[30]).astype(np.float32)
  # Element 0 learns from the first step, element 1 from the eleventh.
  gradients = np.stack([rng.normal(size=[40]).astype(np.float32),
                        np.concatenate([np.zeros(10, np.float32), late])], 1)
  deltas = _steps(ElementwiseStepAdam(LEARNING_RATE), gradients)
  np.testing.assert_array_equal(deltas[:10, 1], 0.0)
  np.testing.assert_allclose(
      deltas[10:, 1],
      _steps(snt.optimizers.Adam(LEARNING_RATE), late[:, None])[:, 0],
      rtol=1e-5)
  np.testing.assert_allclose(
      deltas[:, 0],
      _steps(snt.optimizers.Adam(LEARNING_RATE), gradients[:, :1])[:, 0],
      rtol=1e-5)


def test_after_a_warm_up_sonnets_adam_oversteps_and_this_one_does_not():
  # 500 steps without gradient, then 100 of a constant one: Adam's own
  # start steps by the learning rate; counted from step 0, the steps are
  # 2-4 times that (the module docstring's claim).
  gradients = np.concatenate([np.zeros([500, 1]), np.full([100, 1], 0.3)])
  gradients = gradients.astype(np.float32)
  global_count = _steps(snt.optimizers.Adam(LEARNING_RATE),
                        gradients)[500:, 0] / LEARNING_RATE
  per_element = _steps(ElementwiseStepAdam(LEARNING_RATE),
                       gradients)[500:, 0] / LEARNING_RATE
  assert 1.9 < global_count.min() and 3.5 < global_count.max() < 4.5
  np.testing.assert_allclose(per_element, 1.0, rtol=1e-4)


def test_dense_updates_only():
  variable = tf.Variable(tf.zeros([4, 2]))
  sparse = tf.IndexedSlices(tf.ones([1, 2]), tf.constant([1]),
                            tf.constant([4, 2]))
  with pytest.raises(TypeError, match="dense updates"):
    ElementwiseStepAdam().apply([sparse], [variable])


def test_the_presence_head_starts_counting_when_the_warm_up_ends(
    tiny_config):
  config = TrainConfig(batch_size=8, jit_compile=False, seed=3,
                       presence_warmup_steps=2, adam_steps_per_element=True)
  tf.random.set_seed(0)
  trainer = Trainer(AIR(tiny_config), config)
  head = variable_named(trainer.model, "pres_where_head/w")
  [head_steps] = [steps for steps, variable in zip(
      trainer.optimizer.steps, trainer.model.model_variables)
                  if variable is head]
  images = tf.random.stateless_uniform([8, 16, 16], [0, 1])
  for step in range(1, 4):
    trainer.train_step(images)
    presence_steps = head_steps.numpy()[:, 0]
    np.testing.assert_array_equal(presence_steps, max(step - 2, 0))
    np.testing.assert_array_equal(head_steps.numpy()[:, 1:], step)
