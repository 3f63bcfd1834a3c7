"""The inference network q(z, n | x): attend, infer, repeat."""

from typing import Callable, NamedTuple, Optional

import sonnet as snt
import tensorflow as tf
import tensorflow_probability as tfp

from air_tf import spatial_transformer
from air_tf.config import AIRConfig
from air_tf.recurrent import ContextLSTM
from air_tf.renderer import Renderer

tfd = tfp.distributions

# softplus(0): a fresh network's raw outputs are near 0.
_SOFTPLUS_OF_ZERO = 0.6931472


class Posterior(NamedTuple):
  """Latents and posterior parameters of every step, `[B, N, ...]`.

  Steps after the first absent one have z_pres = 0; steps the loop never
  ran (it stops once every image is done) hold z_pres_logits = 0, unit
  scales and zero locations, so every tensor stays finite.
  """
  z_pres: tf.Tensor  # [B, N] 0/1 samples, 0 after the first 0.
  z_pres_logits: tf.Tensor  # [B, N] logits of q(z_pres_i = 1 | ...).
  z_where: tf.Tensor  # [B, N, 3]
  z_where_loc: tf.Tensor  # [B, N, 3]
  z_where_scale: tf.Tensor  # [B, N, 3]
  z_what: tf.Tensor  # [B, N, D]
  z_what_loc: tf.Tensor  # [B, N, D]
  z_what_scale: tf.Tensor  # [B, N, D]


def image_encoder(hidden_sizes: tuple[int, ...]) -> Callable[[tf.Tensor],
                                                              tf.Tensor]:
  """The MLP that embeds flattened images, `[B, H * W] -> [B, F]`.

  With no hidden sizes the pixels themselves are the embedding.
  """
  if not hidden_sizes:
    return tf.identity
  return snt.nets.MLP(hidden_sizes, activate_final=True, name="image_encoder")


def _write(accumulator: tf.Tensor, step: tf.Tensor,
           value: tf.Tensor) -> tf.Tensor:
  """accumulator[:, step] = value, for `[B, N, ...]` and `[B, ...]`."""
  max_steps = accumulator.shape[1]
  at_step = tf.one_hot(step, max_steps, on_value=True, off_value=False)
  at_step = tf.reshape(at_step, [1, max_steps] + [1] * (value.shape.rank - 1))
  return tf.where(at_step, tf.expand_dims(value, 1), accumulator)


class InferenceNetwork(snt.Module):
  """An LSTM that finds one object per step, for at most N steps.

  At step i the LSTM sees an embedding of the image (with DAIR, of the image
  minus the objects found so far) and the previous step's latents; it
  emits q(z_pres_i) and q(z_where_i); a glimpse cropped at z_where_i is
  encoded into q(z_what_i). Once an image draws z_pres = 0 all its later
  steps are absent, and the loop stops when every image has.
  """

  def __init__(self, config: AIRConfig, name: str = "inference"):
    super().__init__(name=name)
    self._config = config
    height, width = config.canvas_size
    self._num_pixels = height * width
    self._image_encoder = image_encoder(config.image_encoder_hidden)
    self._lstm = ContextLSTM(config.lstm_size, name="lstm")
    self._pres_where_head = snt.Linear(
        1 + 3 + 3, name="pres_where_head")
    self._glimpse_encoder = snt.nets.MLP(
        list(config.encoder_hidden) + [2 * config.z_what_size],
        activate_final=False, name="glimpse_encoder")
    self._z_where_prior_loc = tf.constant(config.z_where_prior_loc,
                                          tf.float32)
    self._z_where_std_unit = tf.constant(
        config.z_where_posterior_init_std, tf.float32) / _SOFTPLUS_OF_ZERO

  def _bound_where(self, offset: tf.Tensor) -> tf.Tensor:
    """Squashes a `[B, 3]` offset from the prior mean into the allowed box."""
    config = self._config
    ranges = tf.constant([config.scale_range] + [config.position_range] * 2)
    squashed = ranges * tf.tanh(offset / tf.maximum(ranges, 1e-6))
    return tf.where(ranges > 0, squashed, offset)

  def _floor_logits(self, logits: tf.Tensor) -> tf.Tensor:
    """Logits of floor + (1 - 2 floor) sigmoid(logits); 0 stays 0."""
    floor = self._config.z_pres_floor
    if not floor:
      return logits
    probs = floor + (1.0 - 2.0 * floor) * tf.sigmoid(logits)
    return tf.math.log(probs) - tf.math.log1p(-probs)

  def _embed(self, images: tf.Tensor) -> tf.Tensor:
    flat = tf.reshape(images, [tf.shape(images)[0], self._num_pixels])
    return self._image_encoder(flat)

  def __call__(self, images: tf.Tensor, seed: Optional[tf.Tensor] = None,
               renderer: Optional[Renderer] = None,
               sample: bool = True) -> Posterior:
    """Infers the objects of a batch of images.

    Args:
      images: `[B, H, W]` float32.
      seed: `[2]` int32 stateless seed; needed when `sample`.
      renderer: the decoder, needed with DAIR to form the residual.
      sample: draw the latents (training) or take the posterior means and
        z_pres = [q(z_pres) > 0.5] (deterministic inference).

    Returns:
      The `Posterior` of every step.
    """
    config = self._config
    if config.dair and renderer is None:
      raise ValueError("DAIR needs the renderer to form the residual.")
    if sample and seed is None:
      raise ValueError("Sampling needs a stateless seed.")
    batch_size = tf.shape(images)[0]
    n, d = config.max_steps, config.z_what_size

    def zeros(*shape):
      return tf.zeros(tf.stack([batch_size, n, *shape]))

    posterior = Posterior(
        z_pres=zeros(), z_pres_logits=zeros(), z_where=zeros(3),
        z_where_loc=zeros(3), z_where_scale=zeros(3) + 1.0, z_what=zeros(d),
        z_what_loc=zeros(d), z_what_scale=zeros(d) + 1.0)
    latents_size = 3 + d + 1
    # Without DAIR every step sees the same image: project it once.
    image_gates = None if config.dair else self._lstm.project_context(
        self._embed(images), latents_size)

    def step(i, state, canvas, prev_pres, prev_where, prev_what, posterior):
      if config.dair:
        gates = self._lstm.project_context(self._embed(images - canvas),
                                           latents_size)
      else:
        gates = image_gates
      latents = tf.concat([prev_where, prev_what, prev_pres[:, tf.newaxis]],
                          axis=1)
      hidden, state = self._lstm.step(gates, latents, state)

      head = self._pres_where_head(hidden)
      pres_logits = self._floor_logits(head[:, 0])
      where_loc = self._z_where_prior_loc + self._bound_where(head[:, 1:4])
      where_scale = tf.nn.softplus(head[:, 4:7]) * self._z_where_std_unit
      if sample:
        pres_seed, where_seed, what_seed = tfp.random.split_seed(
            tf.random.experimental.stateless_fold_in(seed, i), n=3)
        pres = tfd.Bernoulli(logits=pres_logits, dtype=tf.float32).sample(
            seed=pres_seed)
        where = where_loc + where_scale * tf.random.stateless_normal(
            tf.shape(where_loc), where_seed)
      else:
        pres = tf.cast(pres_logits > 0.0, tf.float32)
        where = where_loc
      pres = prev_pres * pres

      glimpse = spatial_transformer.canvas_to_window(
          images, where, config.window_size)
      glimpse = tf.reshape(glimpse, [batch_size, config.window_size ** 2])
      what_params = self._glimpse_encoder(glimpse)
      what_loc = what_params[:, :d]
      what_scale = tf.nn.softplus(what_params[:, d:])
      if sample:
        what = what_loc + what_scale * tf.random.stateless_normal(
            tf.shape(what_loc), what_seed)
      else:
        what = what_loc

      if config.dair:
        canvas += pres[:, tf.newaxis, tf.newaxis] * renderer.render_object(
            where, what)
      posterior = Posterior(*[
          _write(accumulator, i, value) for accumulator, value in zip(
              posterior, (pres, pres_logits, where, where_loc, where_scale,
                          what, what_loc, what_scale))])
      return i + 1, state, canvas, pres, where, what, posterior

    def not_done(i, state, canvas, prev_pres, *unused):
      return tf.logical_and(i < n, tf.reduce_any(prev_pres > 0.0))

    loop_vars = (tf.constant(0), self._lstm.initial_state(batch_size),
                 tf.zeros_like(images), tf.ones([batch_size]),
                 tf.zeros([batch_size, 3]), tf.zeros([batch_size, d]),
                 posterior)
    *_, posterior = tf.while_loop(not_done, step, loop_vars,
                                  maximum_iterations=n)
    return posterior
