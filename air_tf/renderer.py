"""The likelihood p(x | z): decode each object, place it, add them up."""

import sonnet as snt
import tensorflow as tf
import tensorflow_probability as tfp

from air_tf import spatial_transformer
from air_tf.config import AIRConfig

tfd = tfp.distributions

# Keeps Bernoulli log-probs finite where objects overlap or are empty.
_BERNOULLI_EPSILON = 1e-4


class Renderer(snt.Module):
  """Decoder MLP, spatial transformer and pixel likelihood."""

  def __init__(self, config: AIRConfig, name: str = "renderer"):
    super().__init__(name=name)
    self._canvas_size = tuple(config.canvas_size)
    self._window_size = config.window_size
    self._likelihood = config.likelihood
    self._likelihood_std = config.likelihood_std
    self._output_bias = config.decoder_output_bias
    self._decoder = snt.nets.MLP(
        list(config.decoder_hidden) + [config.window_size ** 2],
        activate_final=False, name="decoder")

  def decode(self, z_what: tf.Tensor) -> tf.Tensor:
    """Object images in (0, 1), `[M, D] -> [M, window, window]`."""
    logits = self._decoder(z_what) + self._output_bias
    return tf.reshape(tf.sigmoid(logits),
                      [-1, self._window_size, self._window_size])

  def render_object(self, z_where: tf.Tensor, z_what: tf.Tensor) -> tf.Tensor:
    """One object per image, `[M, 3], [M, D] -> [M, H, W]`."""
    return spatial_transformer.window_to_canvas(
        self.decode(z_what), z_where, self._canvas_size)

  def __call__(self, z_pres: tf.Tensor, z_where: tf.Tensor,
               z_what: tf.Tensor) -> tf.Tensor:
    """The canvas: the sum of the present objects.

    Args:
      z_pres: `[B, N]` presence, 0 or 1.
      z_where: `[B, N, 3]`.
      z_what: `[B, N, D]`.

    Returns:
      `[B, H, W]` canvas (the mean of the likelihood).
    """
    max_steps = z_pres.shape[1]
    objects = self.render_object(tf.reshape(z_where, [-1, 3]),
                                 tf.reshape(z_what, [-1, z_what.shape[-1]]))
    objects = tf.reshape(objects, [-1, max_steps, *self._canvas_size])
    return tf.einsum("bn,bnhw->bhw", z_pres, objects)

  def likelihood(self, canvas: tf.Tensor) -> tfd.Distribution:
    """p(x | z) with batch shape [B] and event shape [H, W]."""
    if self._likelihood == "bernoulli":
      probs = tf.clip_by_value(canvas, _BERNOULLI_EPSILON,
                               1.0 - _BERNOULLI_EPSILON)
      pixels = tfd.Bernoulli(probs=probs, dtype=tf.float32)
    else:
      pixels = tfd.Normal(canvas, self._likelihood_std)
    return tfd.Independent(pixels, reinterpreted_batch_ndims=2)
