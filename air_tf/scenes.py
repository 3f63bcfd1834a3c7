"""Scenes of objects on a canvas, with counts, boxes and labels: placing
objects (inks apart, or added as Pyro does) and resizing them. Shared by
multi-MNIST (`mnist.py`), multi-sprites and multi-Omniglot."""

import dataclasses
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class Labelled:
  """Object images and their classes.

  Attributes:
    images: `[K, h, w]` uint8.
    labels: `[K]` int32 classes; -1 where unknown.
  """
  images: np.ndarray
  labels: np.ndarray

  def __post_init__(self):
    if len(self.images) != len(self.labels):
      raise ValueError(f"{len(self.images)} images but {len(self.labels)} "
                       f"labels.")


@dataclasses.dataclass(frozen=True)
class Scenes:
  """Images with the ground truth of what is in them.

  Attributes:
    images: `[K, H, W]` uint8.
    counts: `[K]` int32 number of objects.
    boxes: `[K, max_objects, 4]` float32 (ymin, xmin, ymax, xmax) pixel edges
      of each object's ink, in placement order; rows past the count are 0.
    labels: `[K, max_objects]` int32 class of each object (an MNIST digit),
      in the same order; -1 past the count or where classes are unknown.
  """
  images: np.ndarray
  counts: np.ndarray
  boxes: np.ndarray
  labels: np.ndarray

  def __len__(self) -> int:
    return len(self.images)

  def float_images(self) -> np.ndarray:
    """`[K, H, W]` float32 images in [0, 1]."""
    return self.images.astype(np.float32) / 255.0


def _crop_to_ink(objects: Sequence[np.ndarray]) -> list[np.ndarray]:
  """The smallest rectangle of each `[h, w]` object that holds all its ink
  (a view of it)."""
  inks = [None] * len(objects)
  by_shape = {}
  for index, image in enumerate(objects):
    by_shape.setdefault(image.shape, []).append(index)
  # Vectorised over the objects of each shape: one at a time, cutting
  # MNIST's 70,000 digits took seconds.
  for (height, width), indices in by_shape.items():
    stack = np.stack([objects[index] for index in indices])
    rows, columns = stack.any(axis=2), stack.any(axis=1)
    if not rows.any(axis=1).all():
      raise ValueError("Every object must have some ink; one is blank.")
    tops, lefts = rows.argmax(axis=1), columns.argmax(axis=1)
    bottoms = height - rows[:, ::-1].argmax(axis=1)
    rights = width - columns[:, ::-1].argmax(axis=1)
    for index, top, bottom, left, right in zip(indices, tops, bottoms,
                                               lefts, rights):
      inks[index] = objects[index][top:bottom, left:right]
  return inks


# Scene layouts of `scatter_objects`.
LAYOUTS = ("ink_apart", "pyro")
# Scenes tried before the objects are declared not to fit.
_MAX_PLACEMENT_TRIES = 1000


def _ink_box(ink: np.ndarray, top: int, left: int) -> np.ndarray:
  """(ymin, xmin, ymax, xmax) pixel edges of `[h, w]` ink placed at
  (top, left)."""
  rows = np.flatnonzero(ink.any(axis=1))
  columns = np.flatnonzero(ink.any(axis=0))
  return np.array([top + rows[0], left + columns[0], top + rows[-1] + 1,
                   left + columns[-1] + 1])


def _dilate(mask: np.ndarray) -> np.ndarray:
  """`mask` grown by one pixel in the 8 directions, same shape."""
  padded = np.pad(mask, 1)
  height, width = mask.shape
  return np.any([padded[dy:dy + height, dx:dx + width]
                 for dy in range(3) for dx in range(3)], axis=0)


def _compose(objects: list[np.ndarray], canvas_size: int, layout: str,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
  """One scene of `objects`: (`[S, S]` uint8 canvas, `[M, 4]` ink boxes).

  "ink_apart": objects (already cut to their ink) placed uniformly where
  no ink pixel touches another object's (not even diagonally); their boxes
  may overlap. "pyro": whole object images placed uniformly and added, as in
  Pyro's multi_mnist; a scene whose summed ink exceeds 255 anywhere is
  redrawn. Rejection sampling redraws the whole scene, since a first
  object in the middle can leave no room for the next.
  """
  for _ in range(_MAX_PLACEMENT_TRIES):
    canvas = np.zeros([canvas_size, canvas_size], np.int32)
    near_ink = np.zeros([canvas_size, canvas_size], bool)
    boxes = np.zeros([len(objects), 4], np.int64)
    for j, image in enumerate(objects):
      height, width = image.shape
      if layout == "pyro":  # numpy's randint(0, padding), as Pyro draws.
        top, left = rng.integers(0, np.maximum(canvas_size - np.array(
            image.shape), 1))
      else:
        top, left = rng.integers(canvas_size - np.array(image.shape) + 1)
      window = (slice(top, top + height), slice(left, left + width))
      ink = image > 0
      if layout == "ink_apart":
        if (near_ink[window] & ink).any():
          break
        placed = np.zeros_like(near_ink)
        placed[window] = ink
        near_ink |= _dilate(placed)
      canvas[window] += image
      boxes[j] = _ink_box(ink, top, left)
    else:
      if canvas.max() <= 255:
        return canvas.astype(np.uint8), boxes
  raise ValueError(f"Could not place {len(objects)} objects with layout "
                   f"{layout!r} on a {canvas_size}x{canvas_size} canvas.")


def scatter_objects(objects: Sequence[np.ndarray], num_images: int, seed: int,
                    canvas_size: int = 50,
                    counts: Sequence[int] = (0, 1, 2),
                    labels: Optional[np.ndarray] = None,
                    layout: str = "ink_apart") -> Scenes:
  """Builds scenes of objects placed uniformly on a canvas, kept apart.

  Each image draws its count uniformly from `counts` and that many objects
  uniformly from `objects`, and places them as `layout` says: by default
  as close as "non-overlapping" allows (inks never touch, boxes may
  overlap); two digits whose ink crosses are ambiguous even to a person.

  Args:
    objects: M uint8 object images `[h, w]` (sizes may differ), each with
      some ink.
    num_images: K.
    seed: makes the result deterministic.
    canvas_size: side of the square canvas.
    counts: the numbers of objects to draw from.
    labels: `[M]` classes of the objects; default: unknown (-1).
    layout: one of `LAYOUTS` (see `_compose`).

  Returns:
    The `Scenes`; boxes are the objects' ink boxes.

  Raises:
    ValueError: if the objects cannot fit the canvas as asked.
  """
  if layout not in LAYOUTS:
    raise ValueError(f"Unknown layout {layout!r}; expected one of "
                     f"{LAYOUTS}.")
  if labels is None:
    labels = np.full(len(objects), -1, np.int32)
  if len(labels) != len(objects):
    raise ValueError(f"{len(objects)} objects but {len(labels)} labels.")
  inks = _crop_to_ink(objects)  # Rejects blank ones.
  if layout == "ink_apart":
    objects = inks
  height, width = np.max([image.shape for image in objects], axis=0)
  if height > canvas_size or width > canvas_size:
    raise ValueError(f"Objects of up to {height}x{width} pixels do not fit "
                     f"a {canvas_size}x{canvas_size} canvas.")
  if not counts or min(counts) < 0:
    raise ValueError(f"counts must be non-negative numbers, got {counts}.")
  rng = np.random.default_rng(seed)
  max_objects = max(counts)
  images = np.zeros([num_images, canvas_size, canvas_size], np.uint8)
  image_counts = rng.choice(np.asarray(counts, np.int32), size=num_images)
  boxes = np.zeros([num_images, max_objects, 4], np.float32)
  scene_labels = np.full([num_images, max_objects], -1, np.int32)
  for k, count in enumerate(image_counts):
    indices = rng.integers(len(objects), size=count)
    images[k], placed = _compose([objects[index] for index in indices],
                                 canvas_size, layout, rng)
    boxes[k, :count] = placed
    scene_labels[k, :count] = labels[indices]
  return Scenes(images, image_counts.astype(np.int32), boxes, scene_labels)


def _resize(objects: np.ndarray, heights: np.ndarray,
            widths: np.ndarray) -> list[np.ndarray]:
  """Resizes `[M, h, w]` objects to their own (height, width), area
  averaging; returns M uint8 images."""
  resized_objects = [None] * len(objects)
  # One batched resize per output size instead of one call per object.
  for height, width in set(zip(heights, widths)):
    chosen = np.flatnonzero((heights == height) & (widths == width))
    resized = tf.image.resize(objects[chosen, :, :, np.newaxis],
                              (height, width), method="area")
    for index, image in zip(chosen, resized.numpy()[..., 0]):
      resized_objects[index] = np.round(image).astype(np.uint8)
  return resized_objects


def shrink(objects: np.ndarray, seed: int, mean: float = 1.3,
           std: float = 0.1) -> list[np.ndarray]:
  """Shrinks each `[h, w]` object by its own factor ~ Normal(mean, std),
  as Pyro's multi_mnist does (sides rounded down).

  Returns:
    The shrunk uint8 objects, of varying sizes.
  """
  factors = np.random.default_rng(seed).normal(mean, std, len(objects))
  heights = np.maximum(objects.shape[1] / factors, 1).astype(int)
  widths = np.maximum(objects.shape[2] / factors, 1).astype(int)
  return _resize(objects, heights, widths)


def resize_uniformly(objects: np.ndarray, sides: tuple[int, int],
                     seed: int) -> list[np.ndarray]:
  """Resizes each square `[s, s]` object to its own side, an integer drawn
  uniformly from `sides` = (min, max), inclusive.

  Returns:
    The resized uint8 objects.
  """
  low, high = sides
  if not 1 <= low <= high:
    raise ValueError(f"Object sides must be 1 <= min <= max, got {sides}.")
  drawn = np.random.default_rng(seed).integers(low, high + 1, len(objects))
  return _resize(objects, drawn, drawn)


