import dataclasses

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from air_tf.model import AIR
from air_tf.prior import Prior

tfd = tfp.distributions


def _prior(config):
  return Prior(config.max_steps, config.z_what_size, config.z_where_prior_loc,
               config.z_where_prior_scale)


@pytest.mark.parametrize("p", [1e-5, 0.01, 0.5, 0.99])
def test_count_probabilities_sum_to_one(tiny_config, p):
  probs = _prior(tiny_config).count(p).probs_parameter().numpy()
  assert probs.shape == (tiny_config.max_steps + 1,)
  np.testing.assert_allclose(probs.sum(), 1.0, rtol=1e-5)


def test_count_is_the_truncated_geometric_of_the_step_bernoullis(tiny_config):
  prior, p = _prior(tiny_config), 0.3
  n_max = tiny_config.max_steps
  for n in range(n_max + 1):
    steps = [1.0] * n + ([0.0] if n < n_max else [])
    per_step = sum(prior.z_pres(p).log_prob(z).numpy() for z in steps)
    np.testing.assert_allclose(prior.count(p).log_prob(n), per_step,
                               rtol=1e-5)


def test_samples_follow_the_count_distribution(tiny_config):
  prior, p = _prior(tiny_config), 0.6
  scene = prior.sample(20000, p, tf.constant([3, 4]))
  z_pres = scene["z_pres"].numpy()
  # Presence is a run of ones then zeros, as long as the count.
  np.testing.assert_array_equal(z_pres.sum(1), scene["count"])
  assert (np.diff(z_pres, axis=1) <= 0).all()
  frequencies = np.bincount(scene["count"], minlength=4) / 20000
  np.testing.assert_allclose(frequencies, prior.count(p).probs_parameter(),
                             atol=0.015)
  assert scene["z_where"].shape == (20000, 3, 3)
  assert scene["z_what"].shape == (20000, 3, tiny_config.z_what_size)
  np.testing.assert_allclose(scene["z_where"].numpy().mean((0, 1)),
                             tiny_config.z_where_prior_loc, atol=0.02)


def test_event_shapes_are_explicit(tiny_config):
  prior = _prior(tiny_config)
  assert prior.z_where().event_shape == [3]
  assert prior.z_what().event_shape == [tiny_config.z_what_size]
  assert prior.count(0.1).event_shape == []


def test_log_prob_is_the_count_and_the_present_objects(tiny_config):
  prior, p = _prior(tiny_config), 0.3
  scene = prior.sample(6, p, tf.constant([1, 2]))
  expected = prior.count(p).log_prob(scene["count"]).numpy()
  for b, n in enumerate(scene["count"].numpy()):
    for i in range(n):  # Steps from n on are not scored.
      expected[b] += prior.z_where().log_prob(scene["z_where"][b, i])
      expected[b] += prior.z_what().log_prob(scene["z_what"][b, i])
  np.testing.assert_allclose(
      prior.log_prob(scene["count"], scene["z_where"], scene["z_what"], p),
      expected, rtol=1e-5)


def test_log_prob_of_the_count_sums_to_one_over_counts(tiny_config):
  # With every latent at its prior mode the object densities factor out:
  # summing exp(log p - log p(objects)) over n gives p(n)'s total, 1.
  prior, p, n_max = _prior(tiny_config), 0.4, tiny_config.max_steps
  counts = tf.range(n_max + 1)
  z_where = tf.broadcast_to(tiny_config.z_where_prior_loc, [n_max + 1, n_max,
                                                            3])
  z_what = tf.zeros([n_max + 1, n_max, tiny_config.z_what_size])
  per_object = float(prior.z_where().log_prob(z_where[0, 0]) +
                     prior.z_what().log_prob(z_what[0, 0]))
  log_probs = prior.log_prob(counts, z_where, z_what, p).numpy()
  np.testing.assert_allclose(
      np.exp(log_probs - per_object * np.arange(n_max + 1)).sum(), 1.0,
      rtol=1e-5)


def _mixture_prior(config, components):
  return Prior(config.max_steps, config.z_what_size, config.z_where_prior_loc,
               config.z_where_prior_scale, z_what_components=components)


def test_the_standard_normals_kl_is_exact_at_every_draw(tiny_config):
  prior = _prior(tiny_config)
  q = tfd.Independent(tfd.Normal(tf.fill([2, 3, 4], 0.5), 0.7), 1)
  draws = q.sample(5, seed=[1, 2])  # [S, B, N, D]
  kl = prior.kl_what(q, draws)
  assert kl.shape == (5, 2, 3)
  exact = 4 * (np.log(1 / 0.7) + (0.7**2 + 0.5**2) / 2 - 0.5)
  np.testing.assert_allclose(kl, exact, rtol=1e-5)


def test_the_mixture_is_a_density(tiny_config):
  config = dataclasses.replace(tiny_config, z_what_size=1)
  prior = _mixture_prior(config, 3)
  z = np.linspace(-12, 12, 24001, dtype=np.float32)[:, None]
  density = np.exp(prior.z_what().log_prob(z).numpy().astype(np.float64))
  np.testing.assert_allclose(np.trapezoid(density, z[:, 0]), 1.0, rtol=1e-5)
  assert prior.z_what().event_shape == [1]


def test_the_mixtures_kl_estimate_is_unbiased(tiny_config):
  # Every component the standard normal: the mixture is Normal(0, I), whose
  # KL is known exactly.
  prior = _mixture_prior(tiny_config, 3)
  for variable in prior.trainable_variables:
    if "locs" in variable.name:
      variable.assign(tf.zeros_like(variable))
  q = tfd.Independent(tfd.Normal(tf.fill([2, 4], 0.5), 0.7), 1)
  draws = q.sample(200000, seed=[3, 4])
  estimate = prior.kl_what(q, draws).numpy()
  exact = 4 * (np.log(1 / 0.7) + (0.7**2 + 0.5**2) / 2 - 0.5)
  np.testing.assert_allclose(estimate.mean(0), exact, rtol=0.01)
  assert estimate.std() > 0.1  # An estimate, not the closed form.


def test_the_mixture_is_learnt_with_the_model(tiny_config):
  model = AIR(dataclasses.replace(tiny_config, z_what_prior_components=3))
  images = tf.random.stateless_uniform([4, 16, 16], seed=[5, 6])
  with tf.GradientTape() as tape:
    elbo = model(images, 0.3, seed=tf.constant([7, 8])).elbo
  prior_variables = model.prior.trainable_variables
  assert len(prior_variables) == 3
  known = {variable.ref() for variable in model.model_variables}
  assert all(variable.ref() in known for variable in prior_variables)
  gradients = tape.gradient(elbo, prior_variables)
  assert all(float(tf.norm(gradient)) > 0 for gradient in gradients)


def test_a_negative_number_of_components_is_refused(tiny_config):
  with pytest.raises(ValueError, match="z_what_prior_components"):
    dataclasses.replace(tiny_config, z_what_prior_components=-1)
