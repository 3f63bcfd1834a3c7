"""AIR: the generative model, its inference network and the ELBO."""

from typing import NamedTuple, Optional

import sonnet as snt
import tensorflow as tf
import tensorflow_probability as tfp

from air_tf import spatial_transformer
from air_tf.config import AIRConfig
from air_tf.estimator import Baseline
from air_tf.inference import (BatchPart, InferenceNetwork, Posterior,
                              count_distribution)
from air_tf.prior import Prior
from air_tf.renderer import DecoderRenderer, Renderer, ink_contact

tfd = tfp.distributions


class AIROutput(NamedTuple):
  """Everything one pass of AIR computes for a batch, `[B, ...]`."""
  posterior: Posterior
  count: tf.Tensor  # [B] int32 number of present objects.
  reconstruction: tf.Tensor  # [B, H, W] canvas of the present objects.
  log_likelihood: tf.Tensor  # [B] log p(x | z).
  kl_where: tf.Tensor  # [B, N] KL(q(z_where_i) || p) where z_pres_i = 1.
  kl_what: tf.Tensor  # [B, N] KL(q(z_what_i) || p) where z_pres_i = 1.
  kl_pres: tf.Tensor  # [B, N] KL(q(z_pres_i) || p) where z_pres_i was drawn.
  # [B, N] nats the prior charges object i for touching the ones before it
  # (`AIRConfig.ink_contact_cost`), 0 where absent or off.
  contact: tf.Tensor
  sampled: tf.Tensor  # [B, N] 1 where z_pres_i was drawn (z_pres_{i-1} = 1).
  # [B, N] log q of step i's drawn discrete latents (z_pres_i; the table-top
  # model adds the identity where present), 0 where none was drawn.
  log_q_discrete: tf.Tensor
  elbo: tf.Tensor  # [B] ELBO estimate, KLs exact where closed-form.
  log_weight: tf.Tensor  # [B] log p(x, z, n) - log q(z, n | x) at the sample.
  log_q: tf.Tensor  # [B] log q(z, n | x) at the sample.


def presence_before(z_pres: tf.Tensor) -> tf.Tensor:
  """`[B, N]` z_pres_{i-1} (1 for i = 0): where z_pres_i is drawn."""
  return tf.concat([tf.ones_like(z_pres[:, :1]), z_pres[:, :-1]], axis=1)


def score(posterior, images: tf.Tensor, z_pres_prob: tf.Tensor, prior: Prior,
          renderer: Renderer, discrete_what: bool = False,
          reconstruction: Optional[tf.Tensor] = None,
          contact: Optional[tf.Tensor] = None) -> AIROutput:
  """Renders a posterior sample and scores it: the ELBO with the KLs exact
  where they have a closed form (`Prior.kl_what`), the terms of the
  learning signals, and the importance weight.

  Args:
    posterior: the inference network's `Posterior` (or one with the same
      fields and distributions).
    images: `[B, ...]` the images it was inferred from.
    z_pres_prob: scalar prior probability of one more object.
    prior: p(n, z_where, z_what).
    renderer: p(x | z).
    discrete_what: z_what is discrete (the table-top identity): its
      log q goes to `log_q_discrete` for REINFORCE instead of being
      reparameterised.
    reconstruction: `[B, ...]` the canvas of the posterior's present
      objects where it is already drawn; None: rendered here.
    contact: `[B, N]` nats of the prior's contact factor per object
      (`AIROutput.contact`); None: none.

  Returns:
    The `AIROutput`.
  """
  z_pres = posterior.z_pres
  sampled = presence_before(z_pres)
  if reconstruction is None:
    reconstruction = renderer(z_pres, posterior.z_where, posterior.z_what)
  log_likelihood = renderer.likelihood(reconstruction).log_prob(images)

  q_where = posterior.where_distribution()
  q_what = posterior.what_distribution()
  q_pres = posterior.pres_distribution()
  kl_where = z_pres * tfd.kl_divergence(q_where, prior.z_where())
  kl_what = z_pres * prior.kl_what(q_what, posterior.z_what)
  kl_pres = sampled * tfd.kl_divergence(q_pres, prior.z_pres(z_pres_prob))
  if contact is None:
    contact = tf.zeros_like(z_pres)
  elbo = log_likelihood - tf.reduce_sum(
      kl_where + kl_what + kl_pres + contact, axis=1)

  # A relaxed z_pres counts where it rounds to 1.
  count = tf.reduce_sum(tf.cast(z_pres > 0.5, tf.int32), axis=1)
  log_q_pres = sampled * q_pres.log_prob(z_pres)
  log_q_where = z_pres * q_where.log_prob(posterior.z_where)
  log_q_what = z_pres * q_what.log_prob(posterior.z_what)
  log_q_discrete = log_q_pres + log_q_what if discrete_what else log_q_pres
  log_q = tf.reduce_sum(log_q_pres + log_q_where + log_q_what, axis=1)
  log_weight = (log_likelihood + prior.log_prob(
      count, posterior.z_where, posterior.z_what, z_pres_prob) -
                tf.reduce_sum(contact, axis=1) - log_q)
  return AIROutput(posterior, count, reconstruction, log_likelihood,
                   kl_where, kl_what, kl_pres, contact, sampled,
                   log_q_discrete, elbo, log_weight, log_q)


class CountEnumeration(NamedTuple):
  """One pass of AIR with the number of objects summed out, `[B]` each
  unless said otherwise."""
  # Every step present: its first n steps are the latents of n objects.
  posterior: Posterior
  count_probs: tf.Tensor  # [B, N + 1] q(n).
  log_likelihood: tf.Tensor  # E_q(n) log p(x | z_1..n).
  kl_where: tf.Tensor  # sum_i q(n > i) KL(q(z_where_i) || p).
  kl_what: tf.Tensor  # sum_i q(n > i) KL(q(z_what_i) || p).
  kl_count: tf.Tensor  # KL(q(n) || p(n)).
  contact: tf.Tensor  # sum_i q(n > i) contact_i (`AIROutput.contact`).
  # log_likelihood - kl_count - kl_where - kl_what - contact.
  elbo: tf.Tensor


def enumerate_counts(posterior: Posterior, objects: tf.Tensor,
                     images: tf.Tensor, z_pres_prob: tf.Tensor, prior: Prior,
                     renderer: Renderer,
                     contact: Optional[tf.Tensor] = None) -> CountEnumeration:
  """The ELBO with the number of objects summed out exactly:

      sum_n q(n) [log p(x | z_1..n) + log p(n) - log q(n)]
          - sum_i q(n > i) [KL(q(z_where_i) || p) + KL(q(z_what_i) || p)]

  at one draw of the continuous latents. Step i of the inference network
  depends only on the steps before it, so one pass with every step present
  holds the latents q draws for every count n (its first n steps), and the
  sum over N + 1 counts costs N + 1 likelihoods, not N + 1 passes. Its
  gradient with respect to q(z_pres) is exact (no REINFORCE, no baseline),
  and it is the expectation over the count of `score`'s ELBO with the
  same continuous draws. The KLs stay exact (or unbiased) because q(n > i)
  depends only on steps before i, not on z_where_i or z_what_i.

  Args:
    posterior: the inference network's `Posterior`, inferred with every
      step present.
    objects: `[B, N, H, W]` each step's object (`Renderer.objects`); the
      canvas of n objects is the sum of the first n.
    images: `[B, ...]` the images it was inferred from.
    z_pres_prob: scalar prior probability of one more object.
    prior: p(n, z_where, z_what).
    renderer: p(x | z).
    contact: `[B, N]` nats of the prior's contact factor of each step's
      object with the ones before it, all present; None: none.

  Returns:
    The `CountEnumeration`.
  """
  q_count = count_distribution(posterior.z_pres_logits)
  count_probs = q_count.probs_parameter()
  drawn = tf.cumsum(objects, axis=1)
  canvases = tf.concat([tf.zeros_like(drawn[:, :1]), drawn], axis=1)
  num_counts = canvases.shape[1]
  log_likelihoods = tf.reshape(
      renderer.likelihood(tf.reshape(canvases, [-1, *canvases.shape[2:]]))
      .log_prob(tf.repeat(images, num_counts, axis=0)), [-1, num_counts])
  more_than = tf.cumsum(count_probs, axis=1, reverse=True,
                        exclusive=True)[:, :-1]  # [B, N] q(n > i).
  kl_where = tf.reduce_sum(more_than * tfd.kl_divergence(
      posterior.where_distribution(), prior.z_where()), axis=1)
  kl_what = tf.reduce_sum(more_than * prior.kl_what(
      posterior.what_distribution(), posterior.z_what), axis=1)
  kl_count = tfd.kl_divergence(q_count, prior.count(z_pres_prob))
  expected_contact = (tf.zeros_like(kl_count) if contact is None else
                      tf.reduce_sum(more_than * contact, axis=1))
  log_likelihood = tf.reduce_sum(count_probs * log_likelihoods, axis=1)
  return CountEnumeration(
      posterior, count_probs, log_likelihood, kl_where, kl_what, kl_count,
      expected_contact,
      log_likelihood - kl_count - kl_where - kl_what - expected_contact)


def elbo_of_count(output: AIROutput, counts: tf.Tensor,
                  count_prior: tfd.Distribution) -> tf.Tensor:
  """`[B]` the ELBO of a deterministic pass inferred with its first
  `counts` (`[B]`) steps present, scored with log p(n) (`count_prior`)
  where the ELBO of a drawn count has q(z_pres)'s KL."""
  return output.log_likelihood + count_prior.log_prob(counts) - tf.reduce_sum(
      output.kl_where + output.kl_what + output.contact, axis=1)


def elbos_by_count(model, images: tf.Tensor,
                   z_pres_prob: tf.Tensor) -> tf.Tensor:
  """The ELBO of each possible count, `[B, N + 1]`: for n objects,
  deterministic inference with the first n steps present, scored with
  log p(n) where the ELBO of a drawn count has q(z_pres)'s KL.

  Its argmax counts by the model (up to the plug-in likelihood at the
  posterior means) rather than by q(z_pres): where the two disagree, the
  inference network is wrong about a count that the model gets right.

  Args:
    model: an `AIR` (or a model called the same way, such as the
      table-top one).
    images: `[B, ...]` images.
    z_pres_prob: scalar prior probability of one more object.
  """
  batch_size = tf.shape(images)[0]
  max_steps = model.config.max_steps
  elbos = []
  for count in range(max_steps + 1):
    counts = tf.fill([batch_size], count)
    output = model(images, z_pres_prob, sample=False,
                   presence=tf.sequence_mask(counts, max_steps,
                                             dtype=tf.float32))
    elbos.append(elbo_of_count(output, counts,
                               model.prior.count(z_pres_prob)))
  return tf.stack(elbos, axis=1)


def generate(model, num_samples: tf.Tensor, z_pres_prob: tf.Tensor,
             seed: tf.Tensor) -> dict[str, tf.Tensor]:
  """Samples scenes from the prior of `model` and renders them.

  Args:
    model: an `AIR` or a model with the same `prior` and `renderer`, such
      as the table-top one.
    num_samples: B, a scalar.
    z_pres_prob: scalar prior probability of one more object.
    seed: `[2]` int32 stateless seed.

  Returns:
    The prior sample ("count", "z_pres", "z_where", "z_what") and "images"
    `[B, *image_shape]`, the mean of p(x | z).
  """
  scene = model.prior.sample(num_samples, z_pres_prob, seed)
  scene["images"] = model.renderer(scene["z_pres"], scene["z_where"],
                                   scene["z_what"])
  return scene


class AIR(snt.Module):
  """Attend, Infer, Repeat (Eslami et al., 2016)."""

  # Training steps before q(z_pres) learns (`TrainConfig`): none, as the
  # decoder's objects start almost empty and cost little.
  PRESENCE_WARMUP_STEPS = 0

  def __init__(self, config: AIRConfig, name: str = "air"):
    super().__init__(name=name)
    self.config = config
    self.prior = Prior(config.max_steps, config.z_what_size,
                       config.z_where_prior_loc, config.z_where_prior_scale,
                       config.z_what_prior_components)
    self.renderer = DecoderRenderer(
        config.canvas_size, config.decoded_size, config.decoder_hidden,
        config.decoder_output_bias, config.likelihood, config.likelihood_std,
        config.likelihood_background_std, config.area_rendering,
        config.likelihood_std_kernel)
    self.inference = InferenceNetwork(
        self.renderer, config.max_steps, config.z_what_size,
        config.window_size, config.lstm_size, config.encoder_hidden,
        config.image_encoder_hidden, config.dair, config.z_where_prior_loc,
        config.z_where_posterior_init_std, config.scale_range,
        config.position_range, config.z_pres_floor, config.count_threshold,
        config.image_encoder_channels, config.image_convolution_step_scale,
        config.reader_square_root, config.count_by_flips,
        config.count_by_zooms, config.window_centring)
    self.baseline = Baseline(config.baseline_lstm_size,
                             config.baseline_hidden,
                             config.image_encoder_hidden)

  @property
  def xla_compilable(self) -> bool:
    """Whether its passes compile with XLA: always (its renderer is
    TensorFlow's)."""
    return True

  @property
  def model_variables(self) -> tuple[tf.Variable, ...]:
    """Trainable variables of the generative model and inference network,
    each once (the inference network holds the renderer too)."""
    generative = self.prior.trainable_variables + (
        self.renderer.trainable_variables)
    known = {variable.ref() for variable in generative}
    return generative + tuple(
        variable for variable in self.inference.trainable_variables
        if variable.ref() not in known)

  def __call__(self, images: tf.Tensor, z_pres_prob: tf.Tensor,
               seed: Optional[tf.Tensor] = None, sample: bool = True,
               presence: Optional[tf.Tensor] = None,
               batch_part: Optional[BatchPart] = None,
               learn_presence: Optional[tf.Tensor] = None) -> AIROutput:
    """Infers, reconstructs and scores a batch of images.

    Args:
      images: `[B, H, W]` float32 in [0, 1].
      z_pres_prob: scalar prior probability of one more object.
      seed: `[2]` int32 stateless seed (needed when `sample`).
      sample: sample the posterior (training, bounds) or take its modes.
      presence: `[B, N]` 0/1 z_pres to infer the other latents under;
        None: drawn or thresholded from q(z_pres).
      batch_part: where `images` sit in the batch `seed` draws for (a
        replica's part); None: they are the whole batch.
      learn_presence: scalar bool, whether the z_pres logits pass gradient
        (None: they do).

    Returns:
      The `AIROutput`.
    """
    return self._scored_pass(images, z_pres_prob, seed, sample, presence,
                             batch_part, learn_presence)

  def wake(self, images: tf.Tensor, z_pres_prob: tf.Tensor,
           seed: tf.Tensor, batch_part: Optional[BatchPart] = None,
           learn_presence: Optional[tf.Tensor] = None) -> AIROutput:
    """A sampled pass whose draws are values, not functions of the
    inference network (`InferenceNetwork.infer_and_draw`'s
    `draws_as_values`): its `log_weight - log_q`, log p(x, z, n), passes
    gradient to the generative model only, and `log_q` to the inference
    network only, as reweighted wake-sleep's wake phase needs. Arguments
    as in `__call__`."""
    return self._scored_pass(images, z_pres_prob, seed, True, None,
                             batch_part, learn_presence, draws_as_values=True)

  def relaxed(self, images: tf.Tensor, z_pres_prob: tf.Tensor,
              seed: tf.Tensor, temperature: tf.Tensor,
              batch_part: Optional[BatchPart] = None,
              learn_presence: Optional[tf.Tensor] = None) -> AIROutput:
    """A sampled pass with z_pres drawn from its binary Concrete at
    `temperature` (`InferenceNetwork.infer_and_draw`'s
    `relaxed_temperature`): its ELBO is differentiable in q(z_pres), every
    step's object weighed by its relaxed presence, so the gradient reaches
    the presence logits and every step's window through the likelihood,
    without REINFORCE. The KL of z_pres is the Bernoulli one, weighed by
    the relaxed presence of the step before. Arguments as in `__call__`."""
    return self._scored_pass(images, z_pres_prob, seed, True, None,
                             batch_part, learn_presence,
                             relaxed_temperature=temperature)

  def _scored_pass(self, images: tf.Tensor, z_pres_prob: tf.Tensor,
                   seed: Optional[tf.Tensor], sample: bool,
                   presence: Optional[tf.Tensor],
                   batch_part: Optional[BatchPart],
                   learn_presence: Optional[tf.Tensor],
                   draws_as_values: bool = False,
                   relaxed_temperature: Optional[tf.Tensor] = None
                   ) -> AIROutput:
    """Infers and scores, reusing the objects the loop drew."""
    posterior, objects = self._infer(images, seed, sample, presence,
                                     batch_part, learn_presence,
                                     draws_as_values, relaxed_temperature)
    return score(posterior, images, z_pres_prob, self.prior, self.renderer,
                 reconstruction=self.renderer.compose(posterior.z_pres,
                                                      objects),
                 contact=self._contact(posterior.z_pres, objects))

  def _contact(self, z_pres: tf.Tensor,
               objects: tf.Tensor) -> Optional[tf.Tensor]:
    """`[B, N]` the nats of the prior's contact factor, None when off."""
    if not self.config.ink_contact_cost:
      return None
    return self.config.ink_contact_cost * ink_contact(z_pres, objects)

  def _infer(self, images: tf.Tensor, seed: Optional[tf.Tensor],
             sample: bool, presence: Optional[tf.Tensor],
             batch_part: Optional[BatchPart],
             learn_presence: Optional[tf.Tensor],
             draws_as_values: bool = False,
             relaxed_temperature: Optional[tf.Tensor] = None
             ) -> tuple[Posterior, tf.Tensor]:
    """The posterior and every step's object, `[B, N, H, W]`: DAIR's loop
    has drawn them already; without DAIR they are rendered here."""
    posterior, objects = self.inference.infer_and_draw(
        images, seed, sample, presence, batch_part, learn_presence,
        draws_as_values, relaxed_temperature)
    if objects is None:
      objects = self.renderer.objects(posterior.z_where, posterior.z_what)
    return posterior, objects

  def enumerate_counts(self, images: tf.Tensor, z_pres_prob: tf.Tensor,
                       seed: tf.Tensor,
                       batch_part: Optional[BatchPart] = None,
                       learn_presence: Optional[tf.Tensor] = None
                       ) -> CountEnumeration:
    """Infers every step of a batch of images and sums the number of
    objects out of the ELBO (`enumerate_counts`).

    Args:
      images: `[B, H, W]` float32 in [0, 1].
      z_pres_prob: scalar prior probability of one more object.
      seed: `[2]` int32 stateless seed of the continuous draws.
      batch_part: as in `__call__`.
      learn_presence: as in `__call__`.
    """
    every_step = tf.ones([tf.shape(images)[0], self.config.max_steps])
    posterior, objects = self._infer(images, seed, True, every_step,
                                     batch_part, learn_presence)
    return enumerate_counts(posterior, objects, images, z_pres_prob,
                            self.prior, self.renderer,
                            self._contact(every_step, objects))

  def count_elbos(self, images: tf.Tensor,
                  z_pres_prob: tf.Tensor) -> tf.Tensor:
    """`[B, N + 1]` the ELBO of each possible count (`elbos_by_count`)."""
    return elbos_by_count(self, images, z_pres_prob)

  def object_boxes(self, z_where: tf.Tensor, z_what: tf.Tensor) -> tf.Tensor:
    """`[B, N, 4]` (ymin, xmin, ymax, xmax) pixel edges of each step's
    window, from `[B, N, 3]` z_where (z_what does not move it)."""
    del z_what
    return spatial_transformer.z_where_to_boxes(z_where,
                                                self.config.canvas_size)

  def build(self, baseline: bool = True) -> None:
    """Creates every variable now, the baseline's too unless not `baseline`
    (objectives without one, such as VIMCO, train none).

    Sonnet creates them on first use; one deterministic pass on a blank
    image makes them all, e.g. before a checkpoint restore is checked or a
    SavedModel is written. Built eagerly, the initial weights depend only
    on the global seed and the order the variables are made in; built
    inside a `tf.function`, they would also depend on how many operations
    the trace had made before each, which any refactoring changes.
    """
    blank = tf.zeros([1, *self.config.canvas_size])
    posterior = self(blank, 0.5, sample=False).posterior
    if baseline:
      self.baseline(blank, posterior.z_pres, posterior.z_where,
                    posterior.z_what)

  def generate(self, num_samples: tf.Tensor, z_pres_prob: tf.Tensor,
               seed: tf.Tensor) -> dict[str, tf.Tensor]:
    """Scenes drawn from the prior (`generate`)."""
    return generate(self, num_samples, z_pres_prob, seed)
