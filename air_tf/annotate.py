"""Reading users' image files for an exported AIR: which files, their
pixels, and fitting them to the model's canvas (`experiments/annotate.py`)."""

import os
from typing import Iterator, NamedTuple, Optional, Sequence

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
    image = _decode(tf.io.read_file(path))
  except tf.errors.OpError as error:
    raise RejectedInput(f"cannot be decoded ({error.message.splitlines()[0]})"
                        ) from error
  return image.numpy()[np.newaxis]


def _decode(contents: tf.Tensor) -> tf.Tensor:
  """`[h, w]` float32 in [0, 1]: an encoded PNG or JPEG, colour to grey."""
  image = tf.io.decode_image(contents, channels=1, expand_animations=False)
  return tf.cast(image[:, :, 0], tf.float32) / 255.0


def _resize(images: tf.Tensor, canvas_size: tuple[int, int]) -> tf.Tensor:
  """`[K, h, w]` images resized to the canvas by area averaging."""
  resized = tf.image.resize(images[..., tf.newaxis], canvas_size,
                            method="area", antialias=True)
  return tf.clip_by_value(resized[..., 0], 0.0, 1.0)


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
  return _resize(tf.constant(images), canvas_size).numpy()


def _image_file_dataset(paths: Sequence[str],
                        canvas_size: tuple[int, int]) -> tf.data.Dataset:
  """PNG and JPEG files read, decoded and fitted to the canvas in
  parallel, in order: elements (position in `paths`, `[H, W]` image,
  its original `[2]` size). A file that cannot be decoded or whose aspect
  ratio is not the canvas's is left out."""
  height, width = canvas_size

  def load(position, path):
    image = _decode(tf.io.read_file(path))
    size = tf.shape(image)
    fits = size[0] * width == size[1] * height
    same = tf.reduce_all(size == canvas_size)
    fitted = tf.cond(
        fits, lambda: tf.cond(same, lambda: image,
                              lambda: _resize(image[tf.newaxis],
                                              canvas_size)[0]),
        lambda: tf.zeros(canvas_size))
    return position, tf.ensure_shape(fitted, canvas_size), size, fits

  dataset = tf.data.Dataset.from_tensor_slices(
      (tf.range(len(paths)), tf.constant(list(paths), tf.string)))
  dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE,
                        deterministic=True).ignore_errors()
  return dataset.filter(lambda *element: element[3]).map(
      lambda position, image, size, fits: (position, image, size))


class Input(NamedTuple):
  """One input file, read: its images, or why it was rejected."""
  path: str
  images: Optional[np.ndarray]  # [K, H, W] float32 fitted to the canvas.
  resized_from: Optional[list[int]]  # [h, w] where it was resized.
  rejected: Optional[str]  # The reason, as the end of "the file ...".


def read_inputs(paths: Sequence[str],
                canvas_size: tuple[int, int]) -> Iterator[Input]:
  """Each file of `paths` read and fitted to the canvas, in order.

  PNG and JPEG files are read and decoded in parallel by a `tf.data`
  pipeline; `.npy` files (stacks of images) by numpy.
  """
  canvas_size = tuple(canvas_size)
  decodable = [path for path in paths
               if path.lower().endswith(IMAGE_SUFFIXES)]
  # In batches: one element at a time out of tf.data costs ~0.5 ms.
  decoded = ((position, image, size) for batch in (
      _image_file_dataset(decodable, canvas_size).batch(256)
      .as_numpy_iterator() if decodable else ()) for position, image, size
             in zip(*batch))
  pending = next(decoded, None)
  position = 0
  for path in paths:
    try:
      if path.lower().endswith(IMAGE_SUFFIXES):
        position += 1
        if pending is None or pending[0] != position - 1:
          # Left out by the pipeline: say why as reading it alone does.
          fit_to_canvas(read_images(path), canvas_size)
          raise RejectedInput("cannot be decoded")
        _, image, size = pending
        pending = next(decoded, None)
        size = size.tolist()
        yield Input(path, image[np.newaxis],
                    None if tuple(size) == canvas_size else size, None)
      else:
        raw = read_images(path)
        size = list(raw.shape[1:])
        yield Input(path, fit_to_canvas(raw, canvas_size),
                    None if tuple(size) == canvas_size else size, None)
    except RejectedInput as reason:
      yield Input(path, None, None, str(reason))
