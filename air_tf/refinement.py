"""The model's own preference between counts, free of the inference network:
each count's Gaussian latents refined per image on that count's ELBO."""

from typing import NamedTuple

import sonnet as snt
import tensorflow as tf
import tensorflow_probability as tfp

from air_tf import training
from air_tf.inference import normal_distribution
from air_tf.model import AIR

tfd = tfp.distributions


class GaussianLatents(NamedTuple):
  """q(z_where) and q(z_what) of every step of a batch, `[B, N, ...]`."""
  z_where_loc: tf.Tensor  # [B, N, 3]
  z_where_scale: tf.Tensor  # [B, N, 3]
  z_what_loc: tf.Tensor  # [B, N, D]
  z_what_scale: tf.Tensor  # [B, N, D]


def count_elbo(model: AIR, images: tf.Tensor, presence: tf.Tensor,
               latents: GaussianLatents, z_pres_prob: tf.Tensor,
               seed: tf.Tensor, num_samples: int) -> tf.Tensor:
  """The ELBO of a fixed count, plus log p(n), `[B]`:

      E_q log p(x | z_1..n) - sum_i<n KL(q(z_i) || p(z_i)) + log p(n)

  with the expectation over `num_samples` reparameterised draws (so it is
  differentiable in the latents) and the KLs exact where they have a
  closed form (`Prior.kl_what`).

  Args:
    model: the `AIR` whose prior and renderer score.
    images: `[B, H, W]` float32 in [0, 1].
    presence: `[B, N]` 1 for the first n steps of each image, 0 after.
    latents: the steps' Gaussians; steps after n are not scored.
    z_pres_prob: scalar prior probability of one more object.
    seed: `[2]` int32 stateless seed of the draws.
    num_samples: draws per image.
  """
  q_where = normal_distribution(latents.z_where_loc, latents.z_where_scale)
  q_what = normal_distribution(latents.z_what_loc, latents.z_what_scale)
  where_seed, what_seed = tfp.random.split_seed(seed, n=2)
  z_where = q_where.sample(num_samples, seed=where_seed)  # [S, B, N, 3]
  z_what = q_what.sample(num_samples, seed=what_seed)
  batch_shape = tf.shape(presence)
  flat = lambda draws: tf.reshape(draws, tf.concat(
      [[-1], batch_shape[1:], tf.shape(draws)[3:]], 0))
  canvases = model.renderer(tf.tile(presence, [num_samples, 1]),
                            flat(z_where), flat(z_what))
  log_likelihood = tf.reshape(
      model.renderer.likelihood(canvases).log_prob(
          tf.tile(images, [num_samples, 1, 1])), [num_samples, -1])
  kl = tf.reduce_sum(presence * (
      tfd.kl_divergence(q_where, model.prior.z_where()) +
      tf.reduce_mean(model.prior.kl_what(q_what, z_what), axis=0)), axis=1)
  count = tf.cast(tf.reduce_sum(presence, axis=1), tf.int32)
  return (tf.reduce_mean(log_likelihood, axis=0) - kl +
          model.prior.count(z_pres_prob).log_prob(count))


def refine(model: AIR, images: tf.Tensor, presence: tf.Tensor,
           start: GaussianLatents, z_pres_prob: float, steps: int,
           learning_rate: float = 0.02, num_samples: int = 4,
           seed: int = 0) -> GaussianLatents:
  """Adam on each image's latents at a fixed count, from `start`.

  Each image's latents are its own (the summed loss separates), so this is
  per-image inference under the model with no amortisation.

  Args:
    model: the `AIR` whose ELBO is raised; its weights do not change.
    images: `[B, H, W]` float32 in [0, 1].
    presence: `[B, N]` the count, as in `count_elbo`.
    start: the latents to start from.
    z_pres_prob: scalar prior probability of one more object.
    steps: Adam steps.
    learning_rate: Adam's step size, on the locations and on the scales'
      inverse softplus.
    num_samples: draws per image and step.
    seed: of the draws (step k draws with (seed, k)).

  Returns:
    The refined latents.
  """
  locations = [tf.Variable(start.z_where_loc), tf.Variable(start.z_what_loc)]
  raw_scales = [tf.Variable(tfp.math.softplus_inverse(scale))
                for scale in (start.z_where_scale, start.z_what_scale)]
  variables = locations + raw_scales
  optimizer = snt.optimizers.Adam(learning_rate)
  training.make_slots(optimizer, variables)

  def latents():
    return GaussianLatents(locations[0], tf.nn.softplus(raw_scales[0]),
                           locations[1], tf.nn.softplus(raw_scales[1]))

  @tf.function(autograph=False)
  def step(index):
    with tf.GradientTape() as tape:
      loss = -tf.reduce_sum(count_elbo(
          model, images, presence, latents(), z_pres_prob,
          tf.stack([tf.constant(seed), index]), num_samples))
    optimizer.apply(tape.gradient(loss, variables), variables)

  for index in range(steps):
    step(tf.constant(index))
  return GaussianLatents(*[tf.convert_to_tensor(value)
                           for value in latents()])
