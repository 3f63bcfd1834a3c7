"""The sleep phase: the inference network learns from scenes the model draws.

Under the ELBO, step i's proposal learns only in images where q counts
step i (REINFORCE: where it draws z_pres_i = 1), so where q misses a second
digit, nothing teaches the second step to find one: a blind spot that
keeps itself (docs/RESULTS.md, issue 13, "why two digits are counted as
one"). The sleep phase of wake-sleep (Hinton et al., 1995) teaches q on
scenes whose latents are known because the model drew them: q maximises
log q(z | x) at a dream's own count and positions, in images where the
second object is there by construction.

The dreams recombine the objects q found in the batch's real images (their
z_where and z_what, rendered by the model's renderer): drawn from the
prior instead, with z_what ~ N(0, I), the decoder draws faint strokes, not
digits, and p(n) (1e-5 per object) draws almost only empty scenes. Each
dream holds a number of objects uniform over 0, ..., N - 1, so that every
count a scene of the training data can hold (and the step after the last
object, which must stop) is taught equally. Objects placed so that their
inks overlap are left out (the dream holds one object fewer): a blot of
two overlapping objects taught q to split single digits in two (one
seed: 434 of 3,361 single full-size digits counted as two, against 184
without the sleep phase; docs/RESULTS.md, issue 13).

A dream's objects have no order, while q finds them one at a time: q is
scored on the set, log sum over orderings of q(z in that order | x), so it
may keep whatever order it finds objects in.
"""

import itertools
from typing import NamedTuple

import tensorflow as tf
import tensorflow_probability as tfp

from air_tf.inference import InferenceNetwork, Posterior
from air_tf.model import presence_before
from air_tf.renderer import Renderer


# Two objects of a dream clash when they share more than this fraction of
# the smaller one's ink (the sum over pixels of the lesser of the two).
SHARED_INK = 0.05


class Dreams(NamedTuple):
  """Scenes drawn by the model, with their latents, `[B, ...]`."""
  images: tf.Tensor  # [B, H, W] the canvas, clipped to the data's [0, 1].
  z_pres: tf.Tensor  # [B, N] 1 for the first `count` steps.
  z_where: tf.Tensor  # [B, N, 3]
  z_what: tf.Tensor  # [B, N, D]


def recombine(posterior: Posterior, renderer: Renderer, num_dreams: int,
              seed: tf.Tensor) -> Dreams:
  """Dreams whose objects are objects of a posterior sample, recombined.

  Args:
    posterior: q's sample on a batch of real images; its present objects
      (z_pres > 0.5) are the pool each dream draws its objects from,
      uniformly and independently.
    renderer: the model's p(x | z), which draws the dreams.
    num_dreams: B.
    seed: `[2]` int32 stateless seed.

  Returns:
    `Dreams` of 0 to N - 1 objects (uniformly), cut from the gradient:
    none where the pool is empty, and none from the first object that
    clashes with an earlier one (`first_clash`) on.
  """
  max_steps = posterior.z_pres.shape[1]
  count_seed, object_seed = tfp.random.split_seed(seed, n=2)
  pool_present = tf.reshape(posterior.z_pres > 0.5, [-1])
  counts = tf.random.stateless_uniform([num_dreams], count_seed, minval=0,
                                       maxval=max_steps, dtype=tf.int32)
  counts = tf.where(tf.reduce_any(pool_present), counts, 0)
  pool_logits = tf.where(pool_present, 0.0, -1e9)[tf.newaxis]
  chosen = tf.random.stateless_categorical(
      pool_logits, num_dreams * max_steps, object_seed)[0]

  def pick(latent):
    flat = tf.reshape(latent, [-1, latent.shape[-1]])
    return tf.stop_gradient(tf.reshape(tf.gather(flat, chosen),
                                       [num_dreams, max_steps, -1]))

  z_where, z_what = pick(posterior.z_where), pick(posterior.z_what)
  objects = renderer.objects(z_where, z_what)
  counts = tf.minimum(counts, first_clash(objects))
  z_pres = tf.sequence_mask(counts, max_steps, dtype=tf.float32)
  images = tf.clip_by_value(renderer.compose(z_pres, objects), 0.0, 1.0)
  return Dreams(tf.stop_gradient(images), z_pres, z_where, z_what)


def first_clash(objects: tf.Tensor) -> tf.Tensor:
  """`[B]` int32 the first step whose object shares more than
  `SHARED_INK` of its ink (or of an earlier object's, the smaller) with an
  earlier step's object, N if none, for `[B, N, H, W]` objects."""
  flat = tf.reshape(objects, [tf.shape(objects)[0], objects.shape[1], -1])
  ink = tf.reduce_sum(flat, axis=2)  # [B, N]
  shared = tf.reduce_sum(tf.minimum(flat[:, :, tf.newaxis],
                                    flat[:, tf.newaxis]), axis=3)
  smaller = tf.minimum(ink[:, :, tf.newaxis], ink[:, tf.newaxis])
  clash = shared > SHARED_INK * tf.maximum(smaller, 1e-6)  # [B, N, N]
  steps = tf.range(objects.shape[1])
  earlier = steps[:, tf.newaxis] > steps  # [i, j]: j < i.
  clashes = tf.reduce_any(tf.logical_and(clash, earlier), axis=2)  # [B, N]
  return tf.where(tf.reduce_any(clashes, axis=1),
                  tf.argmax(tf.cast(clashes, tf.int32), axis=1,
                            output_type=tf.int32), objects.shape[1])


def orderings(max_steps: int) -> tf.Tensor:
  """`[P, N]` the orders of N steps that leave the last in place (P =
  (N - 1)!): those of a dream's 0 to N - 1 objects."""
  return tf.constant([list(order) + [max_steps - 1] for order in
                      itertools.permutations(range(max_steps - 1))]
                     if max_steps > 1 else [[0]], tf.int32)


def set_log_q(inference: InferenceNetwork, dreams: Dreams) -> tf.Tensor:
  """`[B]` log q of each dream's count and positions, its objects in any
  order: log sum over the orderings of its objects of q(z_pres, z_where
  in that order | x), teacher-forced (each step reads the dream's earlier
  objects, not its own draws). z_what is given to the steps as read but
  not scored: the dreams' codes are q's own, and the sleep phase is for
  the count and the positions.

  Gradients reach the inference network only (DAIR's residual is read as
  a value).
  """
  batch_size = tf.shape(dreams.images)[0]
  max_steps = dreams.z_pres.shape[1]
  orders = orderings(max_steps)
  num_orders = orders.shape[0]
  counts = tf.reduce_sum(tf.cast(dreams.z_pres, tf.int32), axis=1)
  steps = tf.range(max_steps)
  # An order is one of dream b's if it moves none of the steps from its
  # count on: [P, B].
  kept = tf.logical_or(orders[:, tf.newaxis] == steps,
                       steps < counts[tf.newaxis, :, tf.newaxis])
  valid = tf.reduce_all(kept, axis=2)

  def in_order(latent):
    tiled = tf.tile(latent[tf.newaxis], [num_orders, 1, 1, 1])
    ordered = tf.gather(tiled, orders, axis=2, batch_dims=1)
    return tf.reshape(ordered, [-1, max_steps, latent.shape[-1]])

  z_where, z_what = in_order(dreams.z_where), in_order(dreams.z_what)
  z_pres = tf.tile(dreams.z_pres, [num_orders, 1])
  images = tf.tile(dreams.images, [num_orders, 1, 1])
  posterior = inference(images, sample=False, presence=z_pres,
                        draws_as_values=True, given=(z_where, z_what))
  log_q = (presence_before(z_pres) *
           posterior.pres_distribution().log_prob(z_pres) +
           z_pres * posterior.where_distribution().log_prob(z_where))
  log_q = tf.reshape(tf.reduce_sum(log_q, axis=1), [num_orders, batch_size])
  return tf.reduce_logsumexp(
      tf.where(valid, log_q, -float("inf")), axis=0)
