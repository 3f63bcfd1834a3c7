import numpy as np
import pytest
import tensorflow as tf

from air_tf.prior import Prior


@pytest.mark.parametrize("p", [1e-5, 0.01, 0.5, 0.99])
def test_count_probabilities_sum_to_one(tiny_config, p):
  probs = Prior(tiny_config).count(p).probs_parameter().numpy()
  assert probs.shape == (tiny_config.max_steps + 1,)
  np.testing.assert_allclose(probs.sum(), 1.0, rtol=1e-5)


def test_count_is_the_truncated_geometric_of_the_step_bernoullis(tiny_config):
  prior, p = Prior(tiny_config), 0.3
  n_max = tiny_config.max_steps
  for n in range(n_max + 1):
    steps = [1.0] * n + ([0.0] if n < n_max else [])
    per_step = sum(prior.z_pres(p).log_prob(z).numpy() for z in steps)
    np.testing.assert_allclose(prior.count(p).log_prob(n), per_step,
                               rtol=1e-5)


def test_samples_follow_the_count_distribution(tiny_config):
  prior, p = Prior(tiny_config), 0.6
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
  prior = Prior(tiny_config)
  assert prior.z_where().event_shape == [3]
  assert prior.z_what().event_shape == [tiny_config.z_what_size]
  assert prior.count(0.1).event_shape == []
