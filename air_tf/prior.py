"""The prior p(n) prod_i p(z_where_i) p(z_what_i) of AIR's generative model."""

import math
from typing import Sequence

import sonnet as snt
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

# Standard deviation of the learnt mixture's initial component means.
_INITIAL_COMPONENT_SPREAD = 0.3


@snt.allow_empty_variables  # The paper's prior has no learnt parameters.
class Prior(snt.Module):
  """Distributions over the number of objects and their latents.

  The number of objects n in {0, ..., N} is a truncated geometric: step i
  holds an object (z_pres_i = 1) with probability `z_pres_prob` as long as
  all earlier steps did, so p(n = k) = p^k (1 - p) for k < N and p^N for
  k = N. `z_pres_prob` is an argument, not a constant, so that training can
  anneal it.

  p(z_what) is Normal(0, I), the paper's, or a mixture of K diagonal normals
  learnt with the model: an empirical-Bayes prior under which the codes of
  the objects scenes hold often cost fewer nats than codes of rare ones.
  """

  def __init__(self, max_steps: int, z_what_size: int,
               z_where_loc: Sequence[float], z_where_scale: Sequence[float],
               z_what_components: int = 0, name: str = "prior"):
    """Constructs the prior.

    Args:
      max_steps: N, the most objects.
      z_what_size: D, the size of each object's appearance code.
      z_where_loc: mean of (scale, x, y).
      z_where_scale: standard deviation of (scale, x, y).
      z_what_components: K; 0 for p(z_what) = Normal(0, I), else a learnt
        mixture of K diagonal normals, which starts as K unit normals about
        means drawn (with a fixed seed) close to the origin: a fresh
        network's codes cost about what they cost under Normal(0, I), and
        the components differ enough to separate.
      name: the module's name.
    """
    super().__init__(name=name)
    self._max_steps = max_steps
    self._z_what_size = z_what_size
    self._z_where_loc = tf.constant(z_where_loc, tf.float32)
    self._z_where_scale = tf.constant(z_where_scale, tf.float32)
    self._z_what_components = z_what_components
    if z_what_components:
      self._component_logits = tf.Variable(
          tf.zeros([z_what_components]), name="z_what_component_logits")
      self._component_locs = tf.Variable(
          _INITIAL_COMPONENT_SPREAD * tf.random.stateless_normal(
              [z_what_components, z_what_size], seed=[0, 0]),
          name="z_what_component_locs")
      # softplus(log(e - 1)) = 1: unit scales at the start.
      self._component_scale_params = tf.Variable(
          tf.fill([z_what_components, z_what_size],
                  math.log(math.e - 1.0)),
          name="z_what_component_scale_params")

  def z_pres(self, z_pres_prob: tf.Tensor) -> tfd.Bernoulli:
    """p(z_pres_i = 1 | z_pres_{i-1} = 1): a scalar Bernoulli."""
    return tfd.Bernoulli(probs=z_pres_prob, dtype=tf.float32)

  def count(self, z_pres_prob: tf.Tensor) -> tfd.Categorical:
    """p(n): the truncated geometric over {0, ..., N}, event shape []."""
    p = tf.convert_to_tensor(z_pres_prob, tf.float32)
    k = tf.range(self._max_steps + 1, dtype=tf.float32)
    stops = tf.cast(k < self._max_steps, tf.float32)
    logits = k * tf.math.log(p) + stops * tf.math.log1p(-p)
    return tfd.Categorical(logits=logits)

  def z_where(self) -> tfd.Distribution:
    """p(z_where_i): independent normals over (scale, x, y), event [3]."""
    return tfd.Independent(tfd.Normal(self._z_where_loc, self._z_where_scale),
                           reinterpreted_batch_ndims=1)

  def z_what(self) -> tfd.Distribution:
    """p(z_what_i): Normal(0, I) or the learnt mixture, event [D]."""
    if not self._z_what_components:
      return tfd.Independent(
          tfd.Normal(tf.zeros([self._z_what_size]), 1.0),
          reinterpreted_batch_ndims=1)
    return tfd.MixtureSameFamily(
        tfd.Categorical(logits=self._component_logits),
        tfd.Independent(
            tfd.Normal(self._component_locs,
                       tf.nn.softplus(self._component_scale_params)),
            reinterpreted_batch_ndims=1))

  def kl_what(self, q_what: tfd.Distribution,
              z_what: tf.Tensor) -> tf.Tensor:
    """KL(q(z_what_i) || p(z_what_i)) of each object, `[..., B, N]`.

    Exact where it has a closed form (the standard normal); otherwise its
    one-draw estimate log q(z) - log p(z) at `z_what`, which is unbiased
    and, reparameterised, differentiable in q and in the learnt prior.

    Args:
      q_what: q(z_what_i), batch `[B, N]`, event `[D]`.
      z_what: `[..., B, N, D]` draws from it.
    """
    prior = self.z_what()
    if not self._z_what_components:
      return tf.broadcast_to(tfd.kl_divergence(q_what, prior),
                             tf.shape(z_what)[:-1])
    return q_what.log_prob(z_what) - prior.log_prob(z_what)

  def log_prob(self, count: tf.Tensor, z_where: tf.Tensor,
               z_what: tf.Tensor, z_pres_prob: tf.Tensor) -> tf.Tensor:
    """log p(n, z_where_1..n, z_what_1..n) of each scene, `[B]`.

    Args:
      count: `[B]` int32 n.
      z_where: `[B, N, 3]`; steps from n on are not scored.
      z_what: `[B, N, D]`; likewise.
      z_pres_prob: scalar prior probability of one more object.
    """
    present = tf.sequence_mask(count, self._max_steps, dtype=tf.float32)
    per_object = (self.z_where().log_prob(z_where) +
                  self.z_what().log_prob(z_what))  # [B, N]
    return (self.count(z_pres_prob).log_prob(count) +
            tf.reduce_sum(present * per_object, axis=1))

  def sample(self, num_samples: tf.Tensor, z_pres_prob: tf.Tensor,
             seed: tf.Tensor) -> dict[str, tf.Tensor]:
    """Draws scenes from the prior.

    Args:
      num_samples: B, a scalar.
      z_pres_prob: scalar prior probability of one more object.
      seed: `[2]` int32 stateless seed.

    Returns:
      "count" `[B]` int32, "z_pres" `[B, N]` (1 for the first n steps),
      "z_where" `[B, N, 3]`, "z_what" `[B, N, D]`.
    """
    count_seed, where_seed, what_seed = tfp.random.split_seed(seed, n=3)
    count = self.count(z_pres_prob).sample(num_samples, seed=count_seed)
    count = tf.cast(count, tf.int32)
    z_pres = tf.sequence_mask(count, self._max_steps, dtype=tf.float32)
    z_where = self.z_where().sample([num_samples, self._max_steps],
                                    seed=where_seed)
    z_what = self.z_what().sample([num_samples, self._max_steps],
                                  seed=what_seed)
    return {"count": count, "z_pres": z_pres, "z_where": z_where,
            "z_what": z_what}
