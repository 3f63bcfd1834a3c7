"""Gradient estimator for the ELBO: reparameterisation + NVIL REINFORCE.

z_where and z_what are reparameterised, so their gradients flow through the
samples. z_pres is discrete: its gradient comes from the score-function
surrogate

    sum_i log q(z_pres_i) * stop_gradient(signal_i - baseline_i),

whose gradient is an unbiased estimate of the ELBO's gradient with respect
to q(z_pres). signal_i holds only the ELBO terms that z_pres_i can change
(the likelihood and the KLs of steps i onwards), and baseline_i is a learned,
input-dependent estimate of it (NVIL, Mnih & Gregor 2014) that sees only
what was known before z_pres_i was drawn, so it cuts variance without bias.
"""

from typing import NamedTuple, Optional

import sonnet as snt
import tensorflow as tf

from air_tf.inference import image_encoder
from air_tf.recurrent import ContextLSTM


class Baseline(snt.Module):
  """NVIL baseline: predicts each step's learning signal, `[B, N]`.

  A network of its own, as in NVIL: an LSTM reads an embedding of the image
  and, at step i, the latents of step i - 1, so that it can tell how much
  of the image the earlier objects already explain. It never sees z_pres_i
  or anything drawn after it (that would bias the estimator), and its
  inputs are cut from the gradient, so its loss trains only its own
  weights.
  """

  def __init__(self, lstm_size: int, hidden_sizes: tuple[int, ...],
               image_encoder_hidden: tuple[int, ...],
               name: str = "baseline"):
    """Constructs the baseline.

    Args:
      lstm_size: units of its LSTM.
      hidden_sizes: hidden sizes of the MLP on the LSTM's output.
      image_encoder_hidden: hidden sizes of its own image embedding MLP.
      name: the module's name.
    """
    super().__init__(name=name)
    self._image_encoder = image_encoder(image_encoder_hidden)
    self._lstm = ContextLSTM(lstm_size, name="lstm")
    self._head = snt.nets.MLP(list(hidden_sizes) + [1],
                              activate_final=False, name="head")

  def __call__(self, images: tf.Tensor, z_pres: tf.Tensor,
               z_where: tf.Tensor, z_what: tf.Tensor) -> tf.Tensor:
    """Baselines of every step.

    Args:
      images: `[B, H, W]`.
      z_pres: `[B, N]` drawn presences.
      z_where: `[B, N, 3]` drawn positions.
      z_what: `[B, N, D]` drawn appearance codes.

    Returns:
      `[B, N]`: baseline i depends on the image and on the latents of steps
      before i only.
    """
    batch_size, max_steps = tf.shape(images)[0], z_pres.shape[1]
    image_features = self._image_encoder(snt.flatten(tf.stop_gradient(images)))
    earlier = tf.stop_gradient(tf.concat(
        [z_pres[:, :, tf.newaxis], z_where, z_what], axis=2))
    # Step i reads step i - 1's latents; step 0 reads "present, at 0".
    first = tf.one_hot(tf.zeros([batch_size], tf.int32), earlier.shape[2])
    earlier = tf.concat([first[:, tf.newaxis], earlier[:, :-1]], axis=1)
    image_gates = self._lstm.project_context(image_features,
                                             earlier.shape[2])
    state = self._lstm.initial_state(batch_size)
    baselines = []
    for i in range(max_steps):
      output, state = self._lstm.step(image_gates, earlier[:, i], state)
      baselines.append(self._head(output)[:, 0])
    return tf.stack(baselines, axis=1)


class SignalNormalizer(snt.Module):
  """Running centring, and optionally scaling, of the learning signal.

  The signal is hundreds of nats (the pixel log-likelihood), far from where
  a fresh baseline starts and further than Adam moves it in thousands of
  steps. As in NVIL, a running mean c_i per step is subtracted first, and
  the learned baseline predicts only what is left; with `scale`, the result
  is divided by max(1, running std). Scaling shrinks the REINFORCE term
  against the reparameterised and analytic-KL terms (by ~100x on
  multi-MNIST, where the KL of z_pres then switches every object off), so it
  is off by default. The averages are bias-corrected
  moving averages updated after use, so the current sample never enters
  its own baseline.
  """

  def __init__(self, max_steps: int, scale: bool = False,
               decay: float = 0.99, name: str = "signal_normalizer"):
    super().__init__(name=name)
    self._scale = scale
    self._decay = decay
    self._updates = tf.Variable(0.0, trainable=False, name="updates")
    self._mean_sum = tf.Variable(tf.zeros([max_steps]), trainable=False,
                                 name="mean_sum")
    self._variance_sum = tf.Variable(tf.zeros([max_steps]), trainable=False,
                                     name="variance_sum")

  def _debiased(self, average: tf.Variable) -> tf.Tensor:
    correction = 1.0 - tf.pow(self._decay, tf.maximum(self._updates, 1.0))
    return average / correction

  @property
  def mean(self) -> tf.Tensor:
    """`[N]` running mean of the signal per step."""
    return self._debiased(self._mean_sum)

  @property
  def variance(self) -> tf.Tensor:
    """`[N]` running variance of signal - mean - baseline per step."""
    return tf.where(self._updates > 0, self._debiased(self._variance_sum),
                    1.0)

  def normalize(self, residual: tf.Tensor) -> tf.Tensor:
    """Scales `[B, N]` residuals when `scale`, else returns them."""
    if not self._scale:
      return residual
    return residual / tf.maximum(1.0, tf.sqrt(self.variance))

  @staticmethod
  def statistics(signals: tf.Tensor, residual: tf.Tensor,
                 mask: tf.Tensor) -> tf.Tensor:
    """`[3, N]` sums over a batch's `[B, N]` signals and residuals where
    `mask` is 1: of the mask, the signals and the squared residuals. Sums
    of the parts of a batch (replicas') add up to the whole batch's."""
    return tf.stack([tf.reduce_sum(mask, axis=0),
                     tf.reduce_sum(signals * mask, axis=0),
                     tf.reduce_sum(tf.square(residual) * mask, axis=0)])

  def update(self, statistics: tf.Tensor) -> None:
    """Folds in a batch's `statistics` (`[3, N]`, see `statistics`)."""
    mask_sum, signal_sum, residual_sum = tf.unstack(statistics)
    count = tf.maximum(mask_sum, 1.0)
    seen = mask_sum > 0
    batch_mean = signal_sum / count
    batch_variance = residual_sum / count
    # Steps no image reached keep their averages.
    mean = tf.where(seen, batch_mean, self.mean)
    variance = tf.where(seen, batch_variance, self.variance)
    self._mean_sum.assign(self._decay * self._mean_sum +
                          (1 - self._decay) * mean)
    self._variance_sum.assign(self._decay * self._variance_sum +
                              (1 - self._decay) * variance)
    self._updates.assign_add(1.0)


def learning_signals(log_likelihood: tf.Tensor, kl_where: tf.Tensor,
                     kl_what: tf.Tensor, kl_pres: tf.Tensor,
                     contact: Optional[tf.Tensor] = None) -> tf.Tensor:
  """Per-step learning signals: the ELBO terms downstream of each z_pres.

  Args:
    log_likelihood: `[B]` log p(x | z).
    kl_where: `[B, N]` KL of z_where per step, already masked by z_pres_i.
    kl_what: `[B, N]` KL of z_what per step, already masked by z_pres_i.
    kl_pres: `[B, N]` KL of z_pres per step, already masked by z_pres_{i-1}.
    contact: `[B, N]` the prior's contact nats per step
      (`AIROutput.contact`), or None.

  Returns:
    `[B, N]`: signal_i = log p(x | z) - sum_{j >= i} (kl_where_j + kl_what_j
    + contact_j) - sum_{j > i} kl_pres_j. The KL of z_pres_i itself is left
    out: it is an expectation over z_pres_i, not a function of the sample.
  """
  object_cost = kl_where + kl_what
  if contact is not None:
    object_cost += contact
  object_kl = tf.cumsum(object_cost, axis=1, reverse=True)
  later_pres_kl = tf.cumsum(kl_pres, axis=1, reverse=True, exclusive=True)
  return log_likelihood[:, tf.newaxis] - object_kl - later_pres_kl


def leave_one_out_means(signals: tf.Tensor,
                        samples_per_image: int) -> tf.Tensor:
  """Each sample's centre: the mean signal of the other samples of its image.

  With K samples of the same image, the mean of the other K - 1 learning
  signals is independent of this sample's draws, so subtracting it keeps
  the estimator unbiased, and it removes exactly what belongs to the image
  rather than to the draw (how much ink there is to explain), which no
  running mean can and a learned baseline only learns slowly.

  Args:
    signals: `[B * K, N]`, the K samples of each image consecutive.
    samples_per_image: K >= 2.

  Returns:
    `[B * K, N]` leave-one-out means.
  """
  max_steps = signals.shape[1]
  grouped = tf.reshape(signals, [-1, samples_per_image, max_steps])
  others = tf.reduce_sum(grouped, axis=1, keepdims=True) - grouped
  return tf.reshape(others / (samples_per_image - 1), [-1, max_steps])


class Surrogate(NamedTuple):
  """The losses a training step minimises and what to log about them."""
  model_loss: tf.Tensor  # scalar: -(ELBO + REINFORCE surrogate), batch mean.
  baseline_loss: tf.Tensor  # scalar: squared error of the baseline.
  signal_mean: tf.Tensor  # scalar: mean of signal - baseline (sampled steps).
  signal_variance: tf.Tensor  # scalar: its variance.
  residual: tf.Tensor  # [B, N] centred signal minus baseline, no gradient.


def surrogate_losses(elbo: tf.Tensor, log_q_pres: tf.Tensor,
                     sampled: tf.Tensor, signals: tf.Tensor,
                     centre: tf.Tensor, baseline: tf.Tensor,
                     normalizer: SignalNormalizer) -> Surrogate:
  """Losses whose gradients estimate the ELBO's gradient.

  Args:
    elbo: `[B]` ELBO with reparameterised continuous latents.
    log_q_pres: `[B, N]` log q(z_pres_i) of the drawn values, zero where
      z_pres_i was not drawn.
    sampled: `[B, N]` 1 where z_pres_i was drawn (z_pres_{i-1} = 1).
    signals: `[B, N]` learning signals (`learning_signals`).
    centre: subtracted from the signals first: the running mean
      `normalizer.mean`, `[N]`, or `leave_one_out_means`, `[B, N]`.
    baseline: `[B, N]` baseline predictions of signals - centre.
    normalizer: running scale of the signal (when it scales). The caller
      updates it with `residual` once the step is known to be finite.

  Returns:
    The `Surrogate` losses.
  """
  centred = tf.stop_gradient(signals - centre)
  residual = centred - tf.stop_gradient(baseline)
  count = tf.maximum(tf.reduce_sum(sampled), 1.0)
  signal_mean = tf.reduce_sum(residual * sampled) / count
  signal_variance = tf.reduce_sum(
      tf.square(residual - signal_mean) * sampled) / count
  advantage = normalizer.normalize(residual)
  reinforce = tf.reduce_sum(log_q_pres * advantage * sampled, axis=1)
  model_loss = -tf.reduce_mean(elbo + reinforce)
  baseline_loss = tf.reduce_mean(
      tf.reduce_sum(tf.square(centred - baseline) * sampled, axis=1))
  return Surrogate(model_loss, baseline_loss, signal_mean, signal_variance,
                   residual)


def vimco_losses(log_weight: tf.Tensor, log_q_pres: tf.Tensor,
                 samples_per_image: int) -> Surrogate:
  """VIMCO (Mnih & Rezende, 2016): the K-sample bound and its estimator.

  The objective is the importance-weighted bound
  L = log (1/K) sum_k w_k of K samples of one image. Its gradient is
  sum_k w~_k grad log w_k (reparameterised latents, normalised weights
  w~_k) plus the score-function term sum_k (L - L_-k) grad log q(z_pres_k),
  where L_-k replaces sample k's log-weight by the mean of the other
  K - 1: a baseline that does not depend on sample k's draws, so the
  estimator stays unbiased. A sample whose later steps found an object
  that the other samples missed gets most of the weight, where the
  single-sample ELBO gives it 1/K: rare good draws teach more.

  Args:
    log_weight: `[B * K]` log p(x, z, n) - log q(z, n | x) of each sample,
      the K samples of each image consecutive.
    log_q_pres: `[B * K, N]` log q of the drawn z_pres_i, 0 where not drawn.
    samples_per_image: K >= 2.

  Returns:
    The `Surrogate` (no baseline: its loss is 0; the signal is L - L_-k,
    `[B * K, 1]` as `residual`).
  """
  log_weight = tf.reshape(log_weight, [-1, samples_per_image])
  log_k = tf.math.log(float(samples_per_image))
  bound = tf.reduce_logsumexp(log_weight, axis=1) - log_k  # [B]
  others_mean = (tf.reduce_sum(log_weight, axis=1, keepdims=True) -
                 log_weight) / (samples_per_image - 1)
  # Bound with sample k's log-weight replaced: log-sum-exp of the others
  # and of their mean, in a stable form.
  eye = tf.eye(samples_per_image, dtype=log_weight.dtype)
  replaced = (log_weight[:, tf.newaxis, :] * (1.0 - eye) +
              others_mean[:, :, tf.newaxis] * eye)  # [B, K, K]
  bound_without = tf.reduce_logsumexp(replaced, axis=2) - log_k  # [B, K]
  signal = tf.stop_gradient(bound[:, tf.newaxis] - bound_without)
  log_q = tf.reshape(tf.reduce_sum(log_q_pres, axis=1),
                     [-1, samples_per_image])
  model_loss = -tf.reduce_mean(bound + tf.reduce_sum(signal * log_q, axis=1))
  signal_mean = tf.reduce_mean(signal)
  return Surrogate(model_loss, tf.constant(0.0), signal_mean,
                   tf.reduce_mean(tf.square(signal - signal_mean)),
                   tf.reshape(signal, [-1, 1]))


def reweighted_wake_losses(log_joint: tf.Tensor, log_q: tf.Tensor,
                           samples_per_image: int) -> Surrogate:
  """Reweighted wake-sleep's wake phase (Bornschein & Bengio, 2015; Le et
  al., 2019): K draws of one image, self-normalised weights
  w~_k = softmax_k(log p(x, z_k) - log q(z_k | x)), and

      generative model:   sum_k w~_k grad log p(x, z_k)
      inference network:  sum_k w~_k grad log q(z_k | x)

  at fixed draws (`AIR.wake`). The first estimates the gradient of
  log p(x); the second that of -KL(p(z | x) || q(z | x)), the KL that
  covers every mode of the posterior: a draw that found an object the
  other draws missed gets most of the weight and q learns to propose it,
  where the ELBO's KL(q || p) lets q drop what it rarely draws. Both are
  biased for finite K, and no REINFORCE term or baseline is needed.

  Args:
    log_joint: `[B * K]` log p(x, z_k, n_k), passing gradient to the
      generative model only; the K draws of each image consecutive.
    log_q: `[B * K]` log q(z_k, n_k | x), passing gradient to the inference
      network only.
    samples_per_image: K >= 2.

  Returns:
    The `Surrogate` (no baseline: its loss is 0; as signal, the effective
    sample size of the weights, its mean and variance over the images;
    `residual` `[B * K, 1]` the weights).
  """
  log_weight = tf.stop_gradient(
      tf.reshape(log_joint - log_q, [-1, samples_per_image]))
  weights = tf.nn.softmax(log_weight, axis=1)  # [B, K]
  objective = tf.reshape(log_joint + log_q, [-1, samples_per_image])
  model_loss = -tf.reduce_mean(tf.reduce_sum(weights * objective, axis=1))
  effective = 1.0 / tf.reduce_sum(tf.square(weights), axis=1)  # [B]
  mean = tf.reduce_mean(effective)
  return Surrogate(model_loss, tf.constant(0.0), mean,
                   tf.reduce_mean(tf.square(effective - mean)),
                   tf.reshape(weights, [-1, 1]))


def pathwise_losses(elbo: tf.Tensor) -> Surrogate:
  """The losses of an ELBO that is differentiable in q(z_pres): with the
  number of objects summed out (`model.enumerate_counts`, exact) or with
  z_pres relaxed (`AIR.relaxed`, biased): there is no learning signal to
  centre and no baseline to fit.

  Args:
    elbo: `[B]` the enumerated or relaxed ELBO.

  Returns:
    The `Surrogate` (baseline loss, signal mean and variance 0; `residual`
    `[B, 1]` zeros).
  """
  zero = tf.constant(0.0)
  return Surrogate(-tf.reduce_mean(elbo), zero, zero, zero,
                   tf.zeros_like(elbo)[:, tf.newaxis])
