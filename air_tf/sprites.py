"""Multi-sprites: grey squares, triangles and circles of several sizes.

The paper's sprites experiment (section 3.1) in the project's own,
generated form: 0-3 shapes per image, each of its own size and brightness,
placed uniformly at random and free to overlap (where they do, the brighter
one shows, so every pixel stays in [0, 1]). Nothing is downloaded.
"""

from typing import Sequence

import numpy as np

from air_tf.scenes import Scenes

SHAPES = ("square", "triangle", "circle")


def draw_shape(shape: str, size: int) -> np.ndarray:
  """A `[size, size]` bool mask of `shape` filling its box.

  Args:
    shape: one of `SHAPES`.
    size: side of the box in pixels, >= 3.
  """
  if size < 3:
    raise ValueError(f"size must be >= 3 pixels, got {size}.")
  # Pixel centres in [0, 1] x [0, 1].
  centres = (np.arange(size) + 0.5) / size
  y, x = np.meshgrid(centres, centres, indexing="ij")
  if shape == "square":
    return np.ones([size, size], bool)
  if shape == "triangle":  # Apex at the top middle, base along the bottom.
    return np.abs(x - 0.5) <= y / 2
  if shape == "circle":
    return (x - 0.5) ** 2 + (y - 0.5) ** 2 <= 0.25
  raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}.")


def multi_sprites(num_images: int, seed: int, canvas_size: int = 50,
                  counts: Sequence[int] = (0, 1, 2, 3),
                  sizes: Sequence[int] = (10, 13, 16),
                  brightness: tuple[float, float] = (0.5, 1.0)) -> Scenes:
  """Scenes of sprites; objects may overlap.

  Args:
    num_images: K.
    seed: makes the result deterministic.
    canvas_size: side of the square canvas.
    counts: each image draws its number of sprites uniformly from these.
    sizes: each sprite draws its side (pixels) uniformly from these.
    brightness: each sprite's grey level is uniform in this range.

  Returns:
    The `Scenes`; boxes are the sprites' boxes in drawing order and labels
    their shapes (indices into `SHAPES`).
  """
  if not counts or min(counts) < 0:
    raise ValueError(f"counts must be non-negative numbers, got {counts}.")
  if not sizes or max(sizes) > canvas_size:
    raise ValueError(f"sizes must be non-empty and at most the canvas side "
                     f"{canvas_size}, got {sizes}.")
  if not 0 < brightness[0] <= brightness[1] <= 1:
    raise ValueError(f"brightness must satisfy 0 < low <= high <= 1, got "
                     f"{brightness}.")
  rng = np.random.default_rng(seed)
  image_counts = rng.choice(np.asarray(counts, np.int32), size=num_images)
  canvas = np.zeros([num_images, canvas_size, canvas_size], np.float32)
  boxes = np.zeros([num_images, max(counts), 4], np.float32)
  labels = np.full([num_images, max(counts)], -1, np.int32)
  masks = {(shape, size): draw_shape(shape, size)
           for shape in SHAPES for size in sizes}
  for k, count in enumerate(image_counts):
    for j in range(count):
      labels[k, j] = rng.integers(len(SHAPES))
      shape = SHAPES[labels[k, j]]
      size = int(rng.choice(sizes))
      top, left = rng.integers(canvas_size - size + 1, size=2)
      grey = rng.uniform(*brightness)
      window = canvas[k, top:top + size, left:left + size]
      np.maximum(window, grey * masks[shape, size], out=window)
      boxes[k, j] = (top, left, top + size, left + size)
  images = np.round(canvas * 255).astype(np.uint8)
  return Scenes(images, image_counts.astype(np.int32), boxes, labels)
