"""Reading users' image files for an exported AIR: which files, their
pixels, and fitting them to the model's canvas (`experiments/annotate.py`)."""

import os
from typing import Sequence

import numpy as np
import tensorflow as tf

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
SUFFIXES = IMAGE_SUFFIXES + (".npy",)


class RejectedInput(Exception):
  """An input file that cannot be annotated; the message says why, as the
  end of "the file ..."."""


def input_files(paths: Sequence[str]) -> list[str]:
  """The files to read: each file of `paths`, and the files with one of
  `SUFFIXES` directly in each folder of `paths` (sorted).

  Raises:
    FileNotFoundError: a path is neither a file nor a folder.
  """
  files = []
  for path in paths:
    if os.path.isdir(path):
      files += sorted(os.path.join(path, name) for name in os.listdir(path)
                      if name.lower().endswith(SUFFIXES))
    elif os.path.isfile(path):
      files.append(path)
    else:
      raise FileNotFoundError(f"--input {path} is neither a file nor a "
                              f"folder.")
  return files


def read_images(path: str) -> np.ndarray:
  """`[K, h, w]` float32 images in [0, 1] from one file: a PNG or JPEG
  (colour turned to grey), or a `.npy` array `[h, w]` or `[K, h, w]` of
  uint8 or of floats in [0, 1].

  Raises:
    RejectedInput: the file cannot be read as such.
  """
  suffix = os.path.splitext(path)[1].lower()
  if suffix == ".npy":
    try:
      array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
      raise RejectedInput(f"cannot read it as .npy ({error})") from error
    if array.ndim not in (2, 3) or not array.size:
      raise RejectedInput(f"holds an array of shape {array.shape}; expected "
                          f"[H, W] or [K, H, W]")
    if array.dtype == np.uint8:
      array = array / 255.0
    elif not np.issubdtype(array.dtype, np.floating):
      raise RejectedInput(f"holds {array.dtype}; expected uint8 or floats")
    elif not np.all(np.isfinite(array)) or array.min() < 0 or array.max() > 1:
      raise RejectedInput("holds floats outside [0, 1] (or NaN/Inf)")
    return np.asarray(array.reshape((-1,) + array.shape[-2:]), np.float32)
  if suffix not in IMAGE_SUFFIXES:
    raise RejectedInput(f"is not one of {', '.join(SUFFIXES)}")
  try:
    image = tf.io.decode_image(tf.io.read_file(path), channels=1,
                               expand_animations=False)
  except tf.errors.OpError as error:
    raise RejectedInput(f"cannot be decoded ({error.message.splitlines()[0]})"
                        ) from error
  return image.numpy()[np.newaxis, :, :, 0].astype(np.float32) / 255.0


def fit_to_canvas(images: np.ndarray,
                  canvas_size: tuple[int, int]) -> np.ndarray:
  """Resizes `[K, h, w]` images to the canvas (area averaging) if their
  aspect ratio is the canvas's.

  Raises:
    RejectedInput: another aspect ratio.
  """
  height, width = images.shape[1:]
  if (height, width) == tuple(canvas_size):
    return images
  if height * canvas_size[1] != width * canvas_size[0]:
    raise RejectedInput(
        f"is {height}x{width}, whose aspect ratio differs from the model's "
        f"{canvas_size[0]}x{canvas_size[1]} canvas")
  resized = tf.image.resize(images[..., np.newaxis], canvas_size,
                            method="area", antialias=True)
  return np.clip(resized.numpy()[..., 0], 0.0, 1.0)
