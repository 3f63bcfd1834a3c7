"""Where the ink still to explain is: a soft-argmax of the DAIR residual."""

import numpy as np
import sonnet as snt
import tensorflow as tf

from air_tf import spatial_transformer

# Side in pixels of the box filter over the residual, about half the
# smallest digit (14 px): a digit's body then outweighs the thin strokes an
# imperfect drawing of a found digit leaves beside it.
BLUR_SIZE = 7
# Softmax temperature per unit of blurred ink. On training scenes with one
# digit of a pair removed, it points within a fifth of the other digit's
# size of its centre (median; never outside half of it), where 10 lets the
# empty canvas's many pixels pull the point off the digit.
INITIAL_SHARPNESS = 40.0


def _box_filter(size: int, width: int) -> np.ndarray:
  """`[size, size]` matrix that averages each pixel's `width` neighbours
  along an axis (zeros beyond the canvas)."""
  pixels = np.arange(size)
  return (np.abs(pixels[:, None] - pixels[None]) <= width // 2).astype(
      np.float32) / width


class InkAttention(snt.Module):
  """Points at the densest unexplained ink of a `[B, H, W]` residual.

  The residual's positive part (ink no object has drawn yet) is blurred by
  a `BLUR_SIZE` box and a softmax over its pixels, at a learnt sharpness,
  weighs their centres. An empty residual points at the canvas's middle.
  """

  def __init__(self, canvas_size: tuple[int, int],
               name: str = "ink_attention"):
    """Constructs the attention.

    Args:
      canvas_size: (H, W) of the residuals.
      name: the module's name.
    """
    super().__init__(name=name)
    height, width = canvas_size
    self._blur_rows = tf.constant(_box_filter(height, BLUR_SIZE))
    self._blur_columns = tf.constant(_box_filter(width, BLUR_SIZE))
    rows = spatial_transformer.pixel_centres(height)
    columns = spatial_transformer.pixel_centres(width)
    # (x, y) of every pixel's centre, in z_where's units, `[H * W, 2]`.
    self._centres = tf.reshape(tf.stack(tf.meshgrid(columns, rows), axis=-1),
                               [height * width, 2])
    self.sharpness = tf.Variable(INITIAL_SHARPNESS, name="sharpness")

  def __call__(self, residual: tf.Tensor) -> tf.Tensor:
    """The point the attention picks.

    Args:
      residual: `[B, H, W]` image minus the objects drawn so far.

    Returns:
      `[B, 2]` (x, y) on the canvas, in z_where's normalised units.
    """
    ink = tf.nn.relu(residual)
    blurred = tf.matmul(tf.matmul(self._blur_rows, ink), self._blur_columns,
                        transpose_b=True)
    weights = tf.nn.softmax(self.sharpness * snt.flatten(blurred), axis=1)
    return tf.matmul(weights, self._centres)
