"""Spatial transformer for AIR's z_where = [scale, x, y].

Coordinates are normalised: the canvas and the window both span [-1, 1] on
each axis, pixel centres at (2 i + 1) / size - 1. An object described by
z_where = [s, x, y] is a square window of side 2 / s centred at (x, y) on the
canvas, so s is the zoom factor (object width = canvas width / s).

    canvas -> window (crop a glimpse):   u = v / s + c
    window -> canvas (render an object): v = s (u - c)

where u is a canvas coordinate, v a window coordinate and c the centre. The
two maps are exact inverses of each other.

AIR's transform has no rotation or shear, so the affine sampling grid is
separable: the row coordinates depend only on the output row and the column
coordinates only on the output column. Bilinear sampling then factorises
into a row kernel and a column kernel, K_y @ image @ K_x^T, with the
triangle kernel max(0, 1 - |coordinate - pixel|). This is exactly bilinear
interpolation with zero padding outside the image, differentiable with
respect to both the image and z_where, and it runs as two batched matmuls
instead of four gathers.

Rendering may instead give each canvas pixel the mean of the (bilinearly
interpolated) object image over the pixel's area (`area=True`): the
kernel is the triangle integrated over the pixel's footprint, in closed
form. Where a window is smaller than the object image (a small object),
point sampling reads about every other pixel of the drawing, which ones
depending on the window's sub-pixel position. The area mean shrinks a
drawing the way a camera does, and the way the area-averaging resize
that makes the multi-MNIST scenes' small digits does: the same at every
position.
"""

from typing import Optional

import tensorflow as tf

# Below this zoom factor the inverse transform (1 / s) blows up: a window
# would be more than 100 canvases wide. Scales are clamped to it.
MIN_SCALE = 1e-2


def _pixel_centres(size: int) -> tf.Tensor:
  """Normalised coordinates of the pixel centres of an axis, `[size]`."""
  return (2.0 * tf.range(size, dtype=tf.float32) + 1.0) / size - 1.0


def _to_pixels(coordinates: tf.Tensor, size: int) -> tf.Tensor:
  """Maps normalised coordinates to (fractional) pixel indices."""
  return ((coordinates + 1.0) * size - 1.0) / 2.0


def _sampling_kernel(sample_at: tf.Tensor, source_size: int) -> tf.Tensor:
  """Bilinear weights of each source pixel for each sampling point.

  Args:
    sample_at: `[B, out_size]` normalised source coordinates to sample at.
    source_size: number of pixels of the source along this axis.

  Returns:
    `[B, out_size, source_size]` weights; rows outside the source are zero.
  """
  positions = _to_pixels(sample_at, source_size)[..., tf.newaxis]
  pixels = tf.range(source_size, dtype=tf.float32)
  return tf.nn.relu(1.0 - tf.abs(positions - pixels))


def _triangle_integral(offset: tf.Tensor) -> tf.Tensor:
  """The integral of the triangle max(0, 1 - |t|) from 0 to `offset`."""
  t = tf.clip_by_value(offset, -1.0, 1.0)
  return t * (1.0 - 0.5 * tf.abs(t))


def _area_kernel(sample_at: tf.Tensor, source_size: int,
                 footprint: tf.Tensor) -> tf.Tensor:
  """Weights of each source pixel in the mean of the bilinear image over
  each sampling point's footprint.

  Args:
    sample_at: `[B, out_size]` normalised source coordinates of the
      footprints' centres.
    source_size: number of pixels of the source along this axis.
    footprint: `[B, 1]` width of a footprint in source pixels, > 0.

  Returns:
    `[B, out_size, source_size]` weights; as `footprint` -> 0, those of
    `_sampling_kernel`.
  """
  offsets = (_to_pixels(sample_at, source_size)[..., tf.newaxis] -
             tf.range(source_size, dtype=tf.float32))
  half = 0.5 * footprint[..., tf.newaxis]
  return (_triangle_integral(offsets + half) -
          _triangle_integral(offsets - half)) / (2.0 * half)


def _clamp_scale(z_where: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
  """Splits `[B, 3]` z_where into (scale, x, y), each `[B, 1]`."""
  scale, x, y = tf.split(z_where, 3, axis=-1)
  return tf.maximum(scale, MIN_SCALE), x, y


def _separable_sample(image: tf.Tensor, rows_at: tf.Tensor,
                      columns_at: tf.Tensor,
                      footprints: Optional[tuple[tf.Tensor, tf.Tensor]] = None
                      ) -> tf.Tensor:
  """Samples `[B, H, W]` or `[B, H, W, C]` images on the grid rows_at x
  columns_at: at points, or averaged over `footprints` (each `[B, 1]`,
  rows' and columns' widths in the image's pixels)."""
  height, width = image.shape[1], image.shape[2]
  if footprints is None:
    row_kernel = _sampling_kernel(rows_at, height)  # [B, out_h, H]
    column_kernel = _sampling_kernel(columns_at, width)  # [B, out_w, W]
  else:
    row_kernel = _area_kernel(rows_at, height, footprints[0])
    column_kernel = _area_kernel(columns_at, width, footprints[1])
  if len(image.shape) == 4:
    return tf.einsum("byh,bhwc,bxw->byxc", row_kernel, image, column_kernel)
  return tf.matmul(tf.matmul(row_kernel, image), column_kernel,
                   transpose_b=True)


def canvas_to_window(canvas: tf.Tensor, z_where: tf.Tensor,
                     window_size: int) -> tf.Tensor:
  """Crops the glimpse that z_where points at.

  Args:
    canvas: `[B, H, W]` images, or `[B, H, W, C]` with channels.
    z_where: `[B, 3]` (scale, x, y).
    window_size: side of the square glimpse in pixels.

  Returns:
    `[B, window_size, window_size]` glimpses (`[..., C]` with channels).
  """
  scale, x, y = _clamp_scale(z_where)
  window = _pixel_centres(window_size)[tf.newaxis, :]
  return _separable_sample(canvas, rows_at=window / scale + y,
                           columns_at=window / scale + x)


def window_to_canvas(window: tf.Tensor, z_where: tf.Tensor,
                     canvas_size: tuple[int, int],
                     area: bool = False) -> tf.Tensor:
  """Renders object images onto an empty canvas at z_where.

  Args:
    window: `[B, h, w]` object images.
    z_where: `[B, 3]` (scale, x, y).
    canvas_size: (H, W) of the canvas.
    area: each canvas pixel is the object's mean over the pixel's area,
      not its value at the pixel's centre.

  Returns:
    `[B, H, W]` canvases that are zero outside the object.
  """
  scale, x, y = _clamp_scale(z_where)
  height, width = canvas_size
  rows = _pixel_centres(height)[tf.newaxis, :]
  columns = _pixel_centres(width)[tf.newaxis, :]
  # A canvas pixel spans `scale * h / H` of the object's pixels.
  footprints = ((scale * window.shape[1] / height,
                 scale * window.shape[2] / width) if area else None)
  return _separable_sample(window, rows_at=scale * (rows - y),
                           columns_at=scale * (columns - x),
                           footprints=footprints)


def zoom(images: tf.Tensor, factor: tf.Tensor, centre: tf.Tensor,
         area: bool = False) -> tf.Tensor:
  """Images magnified about a point, on canvases of their own size, zero
  where the view leaves the image.

  Args:
    images: `[B, H, W]`.
    factor: `[B]` magnifications (> 1 in, < 1 out).
    centre: `[B, 2]` normalised (x, y) of the image point that lands on
      the canvas centre.
    area: each output pixel is the image's mean over the pixel's area (as
      `window_to_canvas` renders), so that a zoom out shrinks as an
      area-averaging resize does; False: bilinear at the pixel's centre
      (a factor of 1 about (0, 0) then returns the images).

  Returns:
    `[B, H, W]` zoomed images.
  """
  factor = tf.convert_to_tensor(factor, tf.float32)[:, tf.newaxis]
  # The image is an object drawn over a window 1 / factor of the canvas.
  z_where = tf.concat([1.0 / factor, -factor * centre], axis=1)
  return window_to_canvas(images, z_where, tuple(images.shape[1:3]), area)


def window_centre_of_mass(images: tf.Tensor, z_where: tf.Tensor
                          ) -> tuple[tf.Tensor, tf.Tensor]:
  """Centre of mass of each image's positive part inside its window.

  Args:
    images: `[B, H, W]`; negative pixels weigh nothing.
    z_where: `[B, 3]` (scale, x, y) of the windows; a pixel is inside
      where its centre is (edges included).

  Returns:
    `[B, 2]` normalised (x, y) of the centre of mass ((0, 0) where the
    window holds no mass), and `[B]` the mass, the sum of the positive
    pixels inside.
  """
  scale, x, y = _clamp_scale(z_where)
  height, width = images.shape[1], images.shape[2]
  rows = _pixel_centres(height)[tf.newaxis, :]
  columns = _pixel_centres(width)[tf.newaxis, :]
  in_rows = tf.cast(tf.abs(rows - y) <= 1.0 / scale, tf.float32)
  in_columns = tf.cast(tf.abs(columns - x) <= 1.0 / scale, tf.float32)
  weights = (tf.nn.relu(images) * in_rows[:, :, tf.newaxis] *
             in_columns[:, tf.newaxis, :])
  mass = tf.reduce_sum(weights, axis=[1, 2])
  centre = tf.stack(
      [tf.reduce_sum(weights * columns[:, tf.newaxis, :], axis=[1, 2]),
       tf.reduce_sum(weights * rows[:, :, tf.newaxis], axis=[1, 2])], axis=1)
  return tf.math.divide_no_nan(centre, mass[:, tf.newaxis]), mass


def z_where_to_boxes(z_where: tf.Tensor,
                     canvas_size: tuple[int, int]) -> tf.Tensor:
  """Pixel bounding boxes of the windows that z_where describes.

  Args:
    z_where: `[..., 3]` (scale, x, y).
    canvas_size: (H, W) of the canvas.

  Returns:
    `[..., 4]` boxes (ymin, xmin, ymax, xmax) in pixels, edges of the window
    (a window spanning the whole canvas is (0, 0, H, W)).
  """
  scale, x, y = tf.unstack(z_where, axis=-1)
  half = 1.0 / tf.maximum(scale, MIN_SCALE)
  height, width = canvas_size
  to_rows = lambda v: (v + 1.0) * height / 2.0
  to_columns = lambda v: (v + 1.0) * width / 2.0
  return tf.stack([to_rows(y - half), to_columns(x - half),
                   to_rows(y + half), to_columns(x + half)], axis=-1)


def mask_boxes(mask: tf.Tensor) -> tf.Tensor:
  """(ymin, xmin, ymax, xmax) pixel edges of each `[M, H, W]` bool mask,
  `[M, 4]` float32; 0 for an empty mask."""
  boxes = []
  for axis in (2, 1):  # Rows hit, then columns hit.
    hit = tf.reduce_any(mask, axis=axis)
    length = tf.shape(hit)[1]
    first = tf.argmax(tf.cast(hit, tf.int32), axis=1, output_type=tf.int32)
    last = length - tf.argmax(tf.cast(hit[:, ::-1], tf.int32), axis=1,
                              output_type=tf.int32)
    boxes.append((first, last))
  edges = tf.cast(tf.stack([boxes[0][0], boxes[1][0], boxes[0][1],
                            boxes[1][1]], axis=1), tf.float32)
  return edges * tf.cast(tf.reduce_any(mask, axis=[1, 2]),
                         tf.float32)[:, tf.newaxis]


def z_where_of_boxes(boxes: tf.Tensor, canvas_size: tuple[int, int],
                     enlarge: float = 1.0) -> tf.Tensor:
  """The windows centred on pixel boxes, `enlarge` times their longer side
  (in normalised units); `z_where_to_boxes` undoes it for square boxes.

  Args:
    boxes: `[..., 4]` (ymin, xmin, ymax, xmax) pixel edges.
    canvas_size: (H, W) of the canvas.
    enlarge: the window's side over the box's longer side.

  Returns:
    `[..., 3]` z_where (scale, x, y).
  """
  boxes = tf.convert_to_tensor(boxes, tf.float32)
  height, width = canvas_size
  ymin, xmin, ymax, xmax = tf.unstack(boxes, axis=-1)
  side = enlarge * tf.maximum((ymax - ymin) * 2.0 / height,
                              (xmax - xmin) * 2.0 / width)
  return tf.stack([2.0 / side, (xmin + xmax) / width - 1.0,
                   (ymin + ymax) / height - 1.0], axis=-1)
