import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from air_tf import estimator
from air_tf.model import presence_before

tfd = tfp.distributions


def test_learning_signals_keep_only_downstream_terms():
  log_likelihood = tf.constant([100.0])
  kl_where = tf.constant([[1.0, 2.0, 4.0]])
  kl_what = tf.constant([[10.0, 20.0, 40.0]])
  kl_pres = tf.constant([[0.1, 0.2, 0.4]])
  signals = estimator.learning_signals(log_likelihood, kl_where, kl_what,
                                       kl_pres)
  np.testing.assert_allclose(
      signals, [[100 - 77 - 0.6, 100 - 66 - 0.4, 100 - 44]], rtol=1e-6)
  # The prior's contact nats are charged like an object's KL.
  contact = tf.constant([[0.0, 3.0, 5.0]])
  np.testing.assert_allclose(
      estimator.learning_signals(log_likelihood, kl_where, kl_what, kl_pres,
                                 contact),
      estimator.learning_signals(log_likelihood, kl_where, kl_what + contact,
                                 kl_pres), rtol=1e-6)


def _toy_gradients(num_samples, baseline_fn, seed=0, samples_per_image=1):
  """REINFORCE gradient of E[f(n)] for n = leading ones of 3 Bernoullis.

  With samples_per_image K > 1, consecutive groups of K samples are centred
  by their leave-one-out means, as K samples of one image are.

  Returns the per-sample gradient estimates `[M, 3]` and the exact gradient.
  """
  f = tf.constant([3.0, -1.0, 5.0, 2.0])
  logits = tf.Variable([0.3, -0.5, 1.1])

  def exact_expectation():
    p = tf.sigmoid(logits)
    probs = tf.stack([1 - p[0], p[0] * (1 - p[1]), p[0] * p[1] * (1 - p[2]),
                      p[0] * p[1] * p[2]])
    return tf.reduce_sum(probs * f)

  with tf.GradientTape() as tape:
    expected = exact_expectation()
  exact = tape.gradient(expected, logits).numpy()

  q = tfd.Bernoulli(logits=tf.broadcast_to(logits, [num_samples, 3]),
                    dtype=tf.float32)
  draws = q.sample(seed=tf.constant([seed, 7]))
  z_pres = tf.math.cumprod(draws, axis=1)
  sampled = presence_before(z_pres)
  count = tf.cast(tf.reduce_sum(z_pres, 1), tf.int32)
  value = tf.gather(f, count)
  signals = tf.broadcast_to(value[:, None], [num_samples, 3])
  baseline = baseline_fn(z_pres, sampled)
  normalizer = estimator.SignalNormalizer(3)
  centre = (estimator.leave_one_out_means(signals, samples_per_image)
            if samples_per_image > 1 else normalizer.mean)
  advantage = signals - centre - baseline
  # d/dlogit log Bernoulli(z; sigmoid(logit)) = z - sigmoid(logit).
  per_sample = (sampled * (z_pres - tf.sigmoid(logits)) * advantage).numpy()
  with tf.GradientTape() as tape:
    log_q = sampled * tfd.Bernoulli(
        logits=tf.broadcast_to(logits, [num_samples, 3]),
        dtype=tf.float32).log_prob(z_pres)
    losses = estimator.surrogate_losses(tf.zeros([num_samples]), log_q,
                                        sampled, signals, centre, baseline,
                                        normalizer)
  batch_gradient = -tape.gradient(losses.model_loss, logits).numpy()
  return per_sample, batch_gradient, exact


def _assert_unbiased(per_sample, estimate, exact):
  standard_error = per_sample.std(0) / np.sqrt(len(per_sample))
  assert (np.abs(estimate - exact) < 4 * standard_error + 1e-3).all(), (
      estimate, exact, standard_error)


def test_reinforce_is_unbiased_without_baseline():
  per_sample, estimate, exact = _toy_gradients(
      100000, lambda z_pres, sampled: tf.zeros_like(z_pres))
  np.testing.assert_allclose(per_sample.mean(0), estimate, rtol=1e-4,
                             atol=1e-4)
  _assert_unbiased(per_sample, estimate, exact)


def test_baseline_that_sees_only_the_past_keeps_it_unbiased_and_cuts_variance():
  # A baseline of the earlier draws only: allowed, and here a good guess.
  past_only = lambda z_pres, sampled: 2.0 + tf.cumsum(sampled, axis=1)
  per_sample, estimate, exact = _toy_gradients(100000, past_only, seed=1)
  _assert_unbiased(per_sample, estimate, exact)
  plain, _, _ = _toy_gradients(100000, lambda z, s: tf.zeros_like(z), seed=1)
  assert per_sample.var(0).sum() < plain.var(0).sum()


def test_baseline_that_sees_the_current_draw_is_biased():
  # The failure the notes warn about: the estimator must not allow it.
  cheating = lambda z_pres, sampled: 4.0 * z_pres
  per_sample, estimate, exact = _toy_gradients(100000, cheating, seed=2)
  standard_error = per_sample.std(0) / np.sqrt(len(per_sample))
  assert (np.abs(estimate - exact) > 6 * standard_error).any()


def test_leave_one_out_means_are_the_mean_of_the_others():
  signals = tf.constant([[1.0, 10.0], [2.0, 20.0], [6.0, 60.0],
                         [5.0, 0.0], [7.0, 0.0], [9.0, 0.0]])
  np.testing.assert_allclose(
      estimator.leave_one_out_means(signals, 3),
      [[4.0, 40.0], [3.5, 35.0], [1.5, 15.0], [8.0, 0.0], [7.0, 0.0],
       [6.0, 0.0]])


def test_leave_one_out_centring_keeps_it_unbiased_and_cuts_variance():
  no_baseline = lambda z, s: tf.zeros_like(z)
  per_sample, estimate, exact = _toy_gradients(100000, no_baseline, seed=4,
                                               samples_per_image=4)
  # Samples of one group share their centres: the error is per group.
  per_group = per_sample.reshape(-1, 4, 3).mean(1)
  _assert_unbiased(per_group, estimate, exact)
  plain, _, _ = _toy_gradients(100000, no_baseline, seed=4)
  assert per_sample.var(0).sum() < plain.var(0).sum()


def test_normalizer_centres_and_scales():
  normalizer = estimator.SignalNormalizer(2, scale=True, decay=0.9)
  mask = tf.ones([1000, 2])
  signals = tf.random.stateless_normal([1000, 2], [1, 2]) * 10.0 + 600.0
  # The first residuals use a stale mean; they decay away.
  for _ in range(200):
    normalizer.update(normalizer.statistics(
        signals, signals - normalizer.mean, mask))
  np.testing.assert_allclose(normalizer.mean, [600.0, 600.0], atol=1.0)
  np.testing.assert_allclose(np.sqrt(normalizer.variance), [10.0, 10.0],
                             rtol=0.05)
  scaled = normalizer.normalize(signals - normalizer.mean).numpy()
  np.testing.assert_allclose(scaled.std(0), [1.0, 1.0], rtol=0.05)


def test_normalizer_statistics_of_parts_add_up_to_the_whole():
  signals = tf.random.stateless_normal([12, 3], [3, 4])
  mask = tf.cast(tf.random.stateless_uniform([12, 3], [5, 6]) < 0.6,
                 tf.float32)
  statistics = estimator.SignalNormalizer.statistics
  whole = statistics(signals, 2.0 * signals, mask)
  parts = (statistics(signals[:5], 2.0 * signals[:5], mask[:5]) +
           statistics(signals[5:], 2.0 * signals[5:], mask[5:]))
  np.testing.assert_allclose(parts, whole, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(whole[0], mask.numpy().sum(0))


def test_vimco_estimates_the_gradient_of_the_k_sample_bound():
  # Toy: log p(x, n) = g(n) for n = leading ones of 3 Bernoullis, so
  # log w = g(n) - log q(n); E[log (w_1 + w_2) / 2] has an exact gradient
  # over all pairs of counts.
  g = tf.constant([-3.0, 1.0, -0.5, 2.0])
  logits = tf.Variable([0.3, -0.5, 1.1])

  def count_probabilities():
    p = tf.sigmoid(logits)
    return tf.stack([1 - p[0], p[0] * (1 - p[1]), p[0] * p[1] * (1 - p[2]),
                     p[0] * p[1] * p[2]])

  with tf.GradientTape() as tape:
    probs = count_probabilities()
    log_w = g - tf.math.log(probs)
    pair_bound = tf.reduce_logsumexp(
        tf.stack(tf.meshgrid(log_w, log_w, indexing="ij")), axis=0) - np.log(2)
    expected = tf.reduce_sum(probs[:, None] * probs[None, :] * pair_bound)
  exact = tape.gradient(expected, logits).numpy()

  estimates, bound_only = [], []
  for batch in range(100):
    q = tfd.Bernoulli(logits=tf.broadcast_to(logits, [2000, 3]),
                      dtype=tf.float32)
    z_pres = tf.math.cumprod(q.sample(seed=tf.constant([batch, 3])), axis=1)
    sampled = presence_before(z_pres)
    count = tf.cast(tf.reduce_sum(z_pres, 1), tf.int32)
    with tf.GradientTape(persistent=True) as tape:
      log_q_pres = sampled * tfd.Bernoulli(
          logits=tf.broadcast_to(logits, [2000, 3]),
          dtype=tf.float32).log_prob(z_pres)
      log_weight = tf.gather(g, count) - tf.reduce_sum(log_q_pres, axis=1)
      losses = estimator.vimco_losses(log_weight, log_q_pres, 2)
      bound = tf.reduce_mean(tf.reduce_logsumexp(
          tf.reshape(log_weight, [-1, 2]), axis=1))
    estimates.append(-tape.gradient(losses.model_loss, logits).numpy())
    bound_only.append(tape.gradient(bound, logits).numpy())
  estimates, bound_only = np.array(estimates), np.array(bound_only)
  _assert_unbiased(estimates, estimates.mean(0), exact)
  # The score-function term is needed: the bound's own gradient alone
  # (through log q in the weights) is biased.
  standard_error = bound_only.std(0) / np.sqrt(len(bound_only))
  assert (np.abs(bound_only.mean(0) - exact) > 6 * standard_error).any()


def test_vimco_signal_is_the_bound_minus_the_leave_one_out_bound():
  log_weight = tf.constant([0.0, 1.0, 3.0])
  losses = estimator.vimco_losses(log_weight, tf.zeros([3, 2]), 3)
  bound = np.log(np.mean(np.exp([0.0, 1.0, 3.0])))
  for k, replaced in enumerate([[2.0, 1.0, 3.0], [0.0, 1.5, 3.0],
                                [0.0, 1.0, 0.5]]):
    np.testing.assert_allclose(
        losses.residual[k, 0], bound - np.log(np.mean(np.exp(replaced))),
        rtol=1e-5)
  np.testing.assert_allclose(losses.model_loss, -bound, rtol=1e-6)


def test_reweighted_wake_gradients_are_the_normalised_weights():
  log_joint = tf.Variable([1.0, 3.0, -2.0, 0.5, 0.0, 2.0])
  log_q = tf.Variable([0.0, 1.0, -1.0, 0.5, 1.0, 0.0])
  with tf.GradientTape() as tape:
    losses = estimator.reweighted_wake_losses(log_joint, log_q, 3)
  joint_gradient, q_gradient = tape.gradient(losses.model_loss,
                                             [log_joint, log_q])
  log_weight = (log_joint - log_q).numpy().reshape(2, 3)
  weights = np.exp(log_weight) / np.exp(log_weight).sum(1, keepdims=True)
  # Mean over the 2 images of sum_k w~_k (log p_k + log q_k).
  np.testing.assert_allclose(joint_gradient, -weights.ravel() / 2, rtol=1e-5)
  np.testing.assert_allclose(q_gradient, -weights.ravel() / 2, rtol=1e-5)
  np.testing.assert_allclose(losses.residual[:, 0], weights.ravel(),
                             rtol=1e-5)
  effective = 1 / (weights ** 2).sum(1)
  np.testing.assert_allclose(losses.signal_mean, effective.mean(), rtol=1e-5)
  assert float(losses.baseline_loss) == 0.0
