import numpy as np
import tensorflow as tf

from air_tf import refinement
from air_tf.model import AIR

_B = 4


def _latents(config, seed=0):
  rng = np.random.default_rng(seed)
  n, d = config.max_steps, config.z_what_size
  return refinement.GaussianLatents(
      tf.constant(rng.normal([2.0, 0.0, 0.0], 0.3, [_B, n, 3]), tf.float32),
      tf.fill([_B, n, 3], 0.2),
      tf.constant(rng.normal(size=[_B, n, d]), tf.float32),
      tf.fill([_B, n, d], 0.5))


def _images():
  return tf.random.stateless_uniform([_B, 16, 16], [3, 4])


def test_no_objects_score_the_empty_canvas_and_the_count_prior(tiny_config):
  model = AIR(tiny_config)
  presence = tf.zeros([_B, tiny_config.max_steps])
  elbo = refinement.count_elbo(model, _images(), presence,
                               _latents(tiny_config), 0.3,
                               tf.constant([1, 2]), 3)
  empty = model.renderer.likelihood(tf.zeros([_B, 16, 16])).log_prob(
      _images())
  np.testing.assert_allclose(
      elbo, empty + model.prior.count(0.3).log_prob(0), rtol=1e-6)


def test_each_present_object_costs_its_kl(tiny_config):
  model = AIR(tiny_config)
  latents = _latents(tiny_config)
  # With scales near zero the draws are the locations.
  sharp = latents._replace(z_where_scale=latents.z_where_scale * 1e-6,
                           z_what_scale=latents.z_what_scale * 1e-6)
  presence = tf.constant([[1.0, 1.0, 0.0]] * _B)
  elbo = refinement.count_elbo(model, _images(), presence, sharp, 0.3,
                               tf.constant([1, 2]), 2)
  canvas = model.renderer(presence, sharp.z_where_loc, sharp.z_what_loc)
  kl = sum(
      tf.reduce_sum(tf.square(loc[:, :2] - mean) / (2 * scale ** 2), [1, 2])
      - tf.reduce_sum(tf.math.log(sharp_scale[:, :2] / scale), [1, 2]) - 0.5
      * tf.cast(tf.size(loc[0, :2]), tf.float32)
      for loc, sharp_scale, mean, scale in (
          (sharp.z_where_loc, sharp.z_where_scale,
           tf.constant(tiny_config.z_where_prior_loc),
           tf.constant(tiny_config.z_where_prior_scale)),
          (sharp.z_what_loc, sharp.z_what_scale, 0.0, 1.0)))
  expected = (model.renderer.likelihood(canvas).log_prob(_images()) - kl +
              model.prior.count(0.3).log_prob(2))
  np.testing.assert_allclose(elbo, expected, rtol=1e-4)


def test_refinement_raises_the_elbo_and_leaves_the_model_alone(tiny_config):
  model = AIR(tiny_config)
  presence = tf.constant([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0]] * (_B // 2))
  start = _latents(tiny_config)
  score = lambda latents: refinement.count_elbo(
      model, _images(), presence, latents, 0.3, tf.constant([7, 7]), 64)
  before = score(start).numpy()
  weights = [v.numpy() for v in model.renderer.variables]
  refined = refinement.refine(model, _images(), presence, start, 0.3,
                              steps=30, learning_rate=0.05)
  assert (score(refined).numpy() > before).all()
  for value, variable in zip(weights, model.renderer.variables):
    np.testing.assert_array_equal(value, variable.numpy())
  # The latents of absent steps get no gradient.
  np.testing.assert_allclose(refined.z_what_loc[:, 2], start.z_what_loc[:, 2])
