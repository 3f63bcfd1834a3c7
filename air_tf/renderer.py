"""The likelihood p(x | z): render each object, add them up, add noise.

`Renderer` is the interface the model and the inference network use; a
renderer that learns nothing (a fixed graphics engine) implements it as
well as the learned `DecoderRenderer`.
"""

import abc
from typing import Optional

import numpy as np
import sonnet as snt
import tensorflow as tf
import tensorflow_probability as tfp

from air_tf import spatial_transformer

tfd = tfp.distributions

LIKELIHOODS = ("normal", "bernoulli")
# Keeps Bernoulli log-probs finite where objects overlap or are empty.
_BERNOULLI_EPSILON = 1e-4
# The learnt std starts as the std interpolated in the pixel's own canvas:
# its logit is -3 + 6 x ink at the kernel's centre, so the std is within 5%
# of the background std on empty canvas and of `likelihood_std` on ink.
# Started at `likelihood_std` everywhere with a contact cost, the second
# step of a probe switched off within 300 steps and never came back.
_LEARNT_STD_INITIAL_LOGIT = 3.0


class Renderer(snt.Module, abc.ABC):
  """Draws objects on a canvas and scores images against it.

  A subclass says how one object looks (`render_object`); the canvas is the
  sum of the present objects, and pixels are independent given it.
  """

  def __init__(self, canvas_size: tuple[int, int], likelihood: str,
               likelihood_std: float, name: str,
               likelihood_background_std: Optional[float] = None,
               likelihood_std_kernel: int = 0):
    """Constructs a renderer.

    Args:
      canvas_size: (H, W) of the images.
      likelihood: "normal" (std `likelihood_std`) or "bernoulli".
      likelihood_std: pixel standard deviation of the normal likelihood
        where the canvas is ink (1).
      name: the module's name.
      likelihood_background_std: the normal likelihood's standard deviation
        where the canvas is empty (0); between the two it is interpolated
        linearly in the canvas (clipped to [0, 1]). None: `likelihood_std`
        everywhere.
      likelihood_std_kernel: k > 0: each pixel's standard deviation is
        learnt from the canvas around it instead: a k x k convolution of
        the clipped canvas and a sigmoid place it between
        `likelihood_background_std` (needed) and `likelihood_std`. 0: as
        above.
    """
    super().__init__(name=name)
    if likelihood not in LIKELIHOODS:
      raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got "
                       f"{likelihood!r}.")
    self.canvas_size = tuple(canvas_size)
    self._likelihood = likelihood
    self._likelihood_std = likelihood_std
    self._likelihood_background_std = likelihood_background_std
    self._std_convolution = None
    if likelihood_std_kernel:
      if likelihood_background_std is None or likelihood != "normal":
        raise ValueError("likelihood_std_kernel needs a normal likelihood "
                         "and a likelihood_background_std, got "
                         f"likelihood={likelihood!r}, "
                         f"likelihood_background_std="
                         f"{likelihood_background_std}.")
      centre = np.zeros([likelihood_std_kernel] * 2 + [1, 1], np.float32)
      centre[likelihood_std_kernel // 2, likelihood_std_kernel // 2] = (
          2 * _LEARNT_STD_INITIAL_LOGIT)
      self._std_convolution = snt.Conv2D(
          1, likelihood_std_kernel, w_init=tf.constant_initializer(centre),
          b_init=tf.constant_initializer(-_LEARNT_STD_INITIAL_LOGIT),
          name="std_convolution")

  @abc.abstractmethod
  def render_object(self, z_where: tf.Tensor, z_what: tf.Tensor) -> tf.Tensor:
    """One object per image, `[M, 3], [M, D] -> [M, H, W]`."""

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
    return self.compose(z_pres, self.objects(z_where, z_what))

  def objects(self, z_where: tf.Tensor, z_what: tf.Tensor) -> tf.Tensor:
    """Every step's object, present or not, `[B, N, 3], [B, N, D] ->
    [B, N, H, W]`."""
    objects = self.render_object(tf.reshape(z_where, [-1, 3]),
                                 tf.reshape(z_what, [-1, z_what.shape[-1]]))
    return tf.reshape(objects, [-1, z_where.shape[1], *self.canvas_size])

  @staticmethod
  def compose(z_pres: tf.Tensor, objects: tf.Tensor) -> tf.Tensor:
    """The canvas of the present objects, `[B, N], [B, N, H, W] ->
    [B, H, W]`: their sum."""
    return tf.einsum("bn,bnhw->bhw", z_pres, objects)

  def likelihood(self, canvas: tf.Tensor) -> tfd.Distribution:
    """p(x | z) with batch shape [B] and event shape [H, W] (grey) or
    [H, W, C] (colour): the canvas's shape less its batch axis."""
    if self._likelihood == "bernoulli":
      probs = tf.clip_by_value(canvas, _BERNOULLI_EPSILON,
                               1.0 - _BERNOULLI_EPSILON)
      pixels = tfd.Bernoulli(probs=probs, dtype=tf.float32)
    else:
      pixels = tfd.Normal(canvas, self._pixel_std(canvas))
    return tfd.Independent(pixels,
                           reinterpreted_batch_ndims=canvas.shape.rank - 1)

  def _pixel_std(self, canvas: tf.Tensor) -> tf.Tensor | float:
    """The normal likelihood's standard deviation, `[B, ...]` or a scalar.

    Ink where the canvas is empty is surer evidence of an object than a
    stroke drawn a little off inside one: a smaller background std makes a
    small, faint digit left unexplained cost more than the strokes an
    imperfect drawing of a large digit leaves (issue 13). Learnt from the
    canvas around each pixel, the std may also grow beside the strokes the
    model draws, if its drawings tend to be off there (three models learnt
    not to: docs/RESULTS.md)."""
    if self._likelihood_background_std is None:
      return self._likelihood_std
    # Where each pixel's std lies: 0, the background std; 1, likelihood_std.
    share = tf.clip_by_value(canvas, 0.0, 1.0)
    if self._std_convolution is not None:
      if canvas.shape.rank != 3:
        raise ValueError(f"A learnt std needs grey canvases [B, H, W], got "
                         f"shape {canvas.shape}.")
      share = tf.sigmoid(
          self._std_convolution(share[..., tf.newaxis]))[..., 0]
    return (self._likelihood_background_std +
            (self._likelihood_std - self._likelihood_background_std) * share)


def ink_contact(z_pres: tf.Tensor, objects: tf.Tensor) -> tf.Tensor:
  """How much each present object draws on or beside the ink of the
  present objects before it, `[B, N], [B, N, H, W] -> [B, N]`.

  Object i's contact is sum_pixels object_i * dilate(canvas_<i), where
  canvas_<i is the sum of the present objects before i and `dilate` takes
  the maximum over each pixel's 3 x 3 neighbourhood: objects whose inks
  stand one empty pixel apart (as the multi-MNIST scenes' digits always
  do) have almost none; two objects that share a digit's strokes, or touch
  where one digit was cut in two, have as much as the ink they share. It is
  0 where z_pres_i is 0.
  """
  present = z_pres[:, :, tf.newaxis, tf.newaxis] * objects
  before = tf.cumsum(present, axis=1, exclusive=True)
  height, width = objects.shape[2], objects.shape[3]
  dilated = tf.nn.max_pool2d(tf.reshape(before, [-1, height, width, 1]),
                             ksize=3, strides=1, padding="SAME")
  return tf.reduce_sum(
      present * tf.reshape(dilated, tf.shape(objects)), axis=[2, 3])


class DecoderRenderer(Renderer):
  """AIR's learned renderer: an MLP decodes z_what into an object image,
  which the spatial transformer stretches over the window z_where
  describes."""

  def __init__(self, canvas_size: tuple[int, int], object_size: int,
               hidden_sizes: tuple[int, ...], output_bias: float,
               likelihood: str, likelihood_std: float,
               likelihood_background_std: Optional[float] = None,
               area_rendering: bool = False, likelihood_std_kernel: int = 0,
               name: str = "renderer"):
    """Constructs the renderer.

    Args:
      canvas_size: (H, W) of the images.
      object_size: side of the decoded object image.
      hidden_sizes: hidden layer sizes of the decoder MLP.
      output_bias: added to the decoder's logits before the sigmoid, so that
        objects start almost empty.
      likelihood: "normal" or "bernoulli" (see `Renderer`).
      likelihood_std: pixel standard deviation of the normal likelihood
        (where the canvas is ink).
      likelihood_background_std: its standard deviation where the canvas
        is empty (see `Renderer`).
      area_rendering: each canvas pixel is the object image's mean over
        the pixel's area (`spatial_transformer.window_to_canvas`), not its
        value at the pixel's centre.
      likelihood_std_kernel: the learnt std's kernel (see `Renderer`).
      name: the module's name.
    """
    super().__init__(canvas_size, likelihood, likelihood_std, name=name,
                     likelihood_background_std=likelihood_background_std,
                     likelihood_std_kernel=likelihood_std_kernel)
    self._object_size = object_size
    self._area_rendering = area_rendering
    self._output_bias = output_bias
    self._decoder = snt.nets.MLP(list(hidden_sizes) + [object_size ** 2],
                                 activate_final=False, name="decoder")

  def decode(self, z_what: tf.Tensor) -> tf.Tensor:
    """Object images in (0, 1), `[M, D] -> [M, object_size, object_size]`."""
    logits = self._decoder(z_what) + self._output_bias
    return tf.reshape(tf.sigmoid(logits),
                      [-1, self._object_size, self._object_size])

  def render_object(self, z_where: tf.Tensor, z_what: tf.Tensor) -> tf.Tensor:
    return spatial_transformer.window_to_canvas(
        self.decode(z_what), z_where, self.canvas_size,
        area=self._area_rendering)
