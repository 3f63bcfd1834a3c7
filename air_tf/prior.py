"""The prior p(n) prod_i p(z_where_i) p(z_what_i) of AIR's generative model."""

from typing import Sequence

import sonnet as snt
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions


class Prior(snt.Module):
  """Distributions over the number of objects and their latents.

  The number of objects n in {0, ..., N} is a truncated geometric: step i
  holds an object (z_pres_i = 1) with probability `z_pres_prob` as long as
  all earlier steps did, so p(n = k) = p^k (1 - p) for k < N and p^N for
  k = N. `z_pres_prob` is an argument, not a constant, so that training can
  anneal it.
  """

  def __init__(self, max_steps: int, z_what_size: int,
               z_where_loc: Sequence[float], z_where_scale: Sequence[float],
               name: str = "prior"):
    """Constructs the prior.

    Args:
      max_steps: N, the most objects.
      z_what_size: D, the size of each object's appearance code.
      z_where_loc: mean of (scale, x, y).
      z_where_scale: standard deviation of (scale, x, y).
      name: the module's name.
    """
    super().__init__(name=name)
    self._max_steps = max_steps
    self._z_what_size = z_what_size
    self._z_where_loc = tf.constant(z_where_loc, tf.float32)
    self._z_where_scale = tf.constant(z_where_scale, tf.float32)

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
    """p(z_what_i) = Normal(0, I), event [D]."""
    return tfd.Independent(
        tfd.Normal(tf.zeros([self._z_what_size]), 1.0),
        reinterpreted_batch_ndims=1)

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
