"""The sleep phase: dreams from the posterior's objects, q scored on sets."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from air_tf import sleep
from air_tf.inference import Posterior
from air_tf.model import AIR
from air_tf.renderer import Renderer


class SquareRenderer(Renderer):
  """Draws each object as a 3x3 square whose top left pixel is (x, y) of
  z_where, at the grey level of z_what's first number."""

  def __init__(self):
    super().__init__((16, 16), "normal", 0.3, name="squares")

  def render_object(self, z_where, z_what):
    corner = tf.cast(z_where[:, 1:], tf.int32)
    rows = tf.range(16)[tf.newaxis, :, tf.newaxis]
    columns = tf.range(16)[tf.newaxis, tf.newaxis, :]
    inside = lambda at, index: tf.logical_and(
        index >= at[:, tf.newaxis, tf.newaxis],
        index < at[:, tf.newaxis, tf.newaxis] + 3)
    square = tf.logical_and(inside(corner[:, 0], rows),
                            inside(corner[:, 1], columns))
    return tf.cast(square, tf.float32) * z_what[:, :1, tf.newaxis]


@pytest.fixture(scope="module")
def model(tiny_config):
  """A tiny DAIR model: its steps read the residual the given objects
  leave.

  It reads plain pixels: a dream minus its own objects is 0 up to
  round-off, which the square root's sign step reads as +-0.1, so two
  orders of the same computation would differ by more than the checks'
  1e-5.
  """
  tf.random.set_seed(0)
  air = AIR(dataclasses.replace(tiny_config, dair=True,
                                reader_square_root=False))
  air.build()
  return air


def _posterior(z_pres, z_where, z_what):
  zeros = lambda like: tf.zeros_like(like)
  return Posterior(z_pres, zeros(z_pres), z_where, zeros(z_where),
                   zeros(z_where) + 1.0, z_what, zeros(z_what),
                   zeros(z_what) + 1.0)


def _dreams(model, z_pres, z_where, z_what):
  z_pres, z_where, z_what = (tf.constant(value, tf.float32) for value in
                             (z_pres, z_where, z_what))
  images = tf.clip_by_value(model.renderer(z_pres, z_where, z_what), 0, 1)
  return sleep.Dreams(images, z_pres, z_where, z_what)


def _two_objects(model):
  z_where = [[[2.0, -0.5, -0.4], [2.2, 0.5, 0.3], [2.0, 0.0, 0.0]]]
  z_what = np.random.default_rng(0).normal(size=[1, 3, 4])
  return _dreams(model, [[1.0, 1.0, 0.0]], z_where, z_what)


def _teacher_forced_log_q(model, dreams, order):
  """log q of the dream's objects taken in `order`, step by step."""
  z_where = tf.gather(dreams.z_where, order, axis=1)
  z_what = tf.gather(dreams.z_what, order, axis=1)
  posterior = model.inference(dreams.images, sample=False,
                              presence=dreams.z_pres,
                              given=(z_where, z_what))
  count = int(tf.reduce_sum(dreams.z_pres))
  log_pres = tf.math.log_sigmoid(posterior.z_pres_logits[0])
  log_absent = tf.math.log_sigmoid(-posterior.z_pres_logits[0, count])
  log_where = posterior.where_distribution().log_prob(z_where)[0]
  return float(tf.reduce_sum(log_pres[:count] + log_where[:count]) +
               log_absent)


def test_orderings_move_every_step_but_the_last():
  np.testing.assert_array_equal(sleep.orderings(3), [[0, 1, 2], [1, 0, 2]])
  np.testing.assert_array_equal(sleep.orderings(1), [[0]])
  orders = sleep.orderings(4).numpy()
  assert len({tuple(order) for order in orders}) == 6
  assert (orders[:, 3] == 3).all()


def test_teacher_forcing_takes_the_given_latents(model):
  dreams = _two_objects(model)
  posterior = model.inference(dreams.images, sample=False,
                              presence=dreams.z_pres,
                              given=(dreams.z_where, dreams.z_what))
  np.testing.assert_allclose(posterior.z_where[0, :2], dreams.z_where[0, :2])
  np.testing.assert_allclose(posterior.z_what[0, :2], dreams.z_what[0, :2])
  # The second step reads the first step's given object.
  moved = dreams.z_where.numpy()
  moved[0, 0, 1] += 0.3
  other = model.inference(dreams.images, sample=False,
                          presence=dreams.z_pres,
                          given=(tf.constant(moved), dreams.z_what))
  assert not np.allclose(other.z_where_loc[0, 1], posterior.z_where_loc[0, 1])


def test_set_log_q_sums_over_orders_and_ignores_the_given_one(model):
  dreams = _two_objects(model)
  swapped = dreams._replace(
      z_where=tf.gather(dreams.z_where, [1, 0, 2], axis=1),
      z_what=tf.gather(dreams.z_what, [1, 0, 2], axis=1))
  expected = np.logaddexp(_teacher_forced_log_q(model, dreams, [0, 1, 2]),
                          _teacher_forced_log_q(model, dreams, [1, 0, 2]))
  np.testing.assert_allclose(sleep.set_log_q(model.inference, dreams),
                             [expected], rtol=1e-5)
  np.testing.assert_allclose(sleep.set_log_q(model.inference, swapped),
                             [expected], rtol=1e-5)


def test_set_log_q_of_one_object_and_of_none_has_one_order(model):
  dreams = _two_objects(model)
  one = _dreams(model, [[1.0, 0.0, 0.0]], dreams.z_where, dreams.z_what)
  np.testing.assert_allclose(sleep.set_log_q(model.inference, one),
                             [_teacher_forced_log_q(model, one, [0, 1, 2])],
                             rtol=1e-5)
  empty = _dreams(model, [[0.0, 0.0, 0.0]], dreams.z_where, dreams.z_what)
  first_logit = model.inference(empty.images,
                                sample=False).z_pres_logits[0, 0]
  np.testing.assert_allclose(sleep.set_log_q(model.inference, empty),
                             [tf.math.log_sigmoid(-first_logit)], rtol=1e-5)


def test_the_sleep_gradient_reaches_the_inference_network_only(model):
  dreams = _two_objects(model)
  with tf.GradientTape() as tape:
    log_q = tf.reduce_sum(sleep.set_log_q(model.inference, dreams))
  rendering = list(model.renderer.trainable_variables)
  inferring = [variable for variable in model.inference.trainable_variables
               if all(variable is not other for other in rendering)]
  gradients = tape.gradient(log_q, rendering + inferring)
  assert all(gradient is None or not np.any(gradient)
             for gradient in gradients[:len(rendering)])
  assert any(gradient is not None and np.any(gradient)
             for gradient in gradients[len(rendering):])


def test_dreams_recombine_the_present_objects_of_the_posterior():
  # Three present objects, far apart; the absent ones must never be drawn.
  z_pres = tf.constant([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
  z_where = tf.constant([[[1, 0, 0], [1, 0, 8], [1, 12, 12]],
                         [[1, 8, 0], [1, 5, 5], [1, 5, 5]]], tf.float32)
  z_what = tf.constant([[[0.5, 0], [0.7, 0], [0.1, 0]],
                        [[0.9, 0], [0.3, 0], [0.3, 0]]])
  renderer = SquareRenderer()
  dreams = sleep.recombine(_posterior(z_pres, z_where, z_what), renderer,
                           900, tf.constant([4, 2]))
  counts = tf.reduce_sum(dreams.z_pres, axis=1).numpy()
  # A third asks for each count, 0 to N - 1; a second object that is the
  # first again (a third of the time) clashes with it and is left out.
  for count, share in ((0, 1 / 3), (1, 1 / 3 + 1 / 9), (2, 2 / 9)):
    assert abs(np.mean(counts == count) - share) < 0.05, (count, counts)
  present = dreams.z_pres.numpy() > 0
  pool = {5: (0, 0), 7: (0, 8), 9: (8, 0)}  # Tenths of grey: corner.
  picked = np.rint(dreams.z_what.numpy()[present][:, 0] * 10).astype(int)
  assert set(picked) == set(pool)
  for grey, where in zip(picked, dreams.z_where.numpy()[present]):
    assert tuple(where[1:]) == pool[grey]
  pairs = dreams.z_what.numpy()[counts == 2][:, :2, 0]
  assert (pairs[:, 0] != pairs[:, 1]).all()
  np.testing.assert_allclose(dreams.images, renderer(
      dreams.z_pres, dreams.z_where, dreams.z_what))


def test_the_first_object_to_share_ink_with_an_earlier_one_clashes():
  def square(row, column, grey=1.0):
    canvas = np.zeros([16, 16], np.float32)
    canvas[row:row + 3, column:column + 3] = grey
    return canvas

  apart = [square(0, 0), square(0, 4), square(8, 8)]
  # 1 pixel of 9 shared: 11% of the smaller object's ink.
  touching = [square(0, 0), square(2, 2), square(8, 8)]
  third_on_first = [square(0, 0), square(8, 8), square(1, 0, 0.5)]
  faint_halo = [square(0, 0), square(0, 3) + 0.001, square(8, 8)]
  np.testing.assert_array_equal(sleep.first_clash(tf.constant(
      [apart, touching, third_on_first, faint_halo])), [3, 1, 2, 3])


def test_a_posterior_without_objects_dreams_empty_scenes(model):
  z_where, z_what = tf.ones([2, 3, 3]), tf.ones([2, 3, 4])
  dreams = sleep.recombine(_posterior(tf.zeros([2, 3]), z_where, z_what),
                           model.renderer, 10, tf.constant([0, 1]))
  assert not np.any(dreams.z_pres) and not np.any(dreams.images)
