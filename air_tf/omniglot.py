"""Multi-Omniglot: handwritten characters of many alphabets on a canvas.

Omniglot (Lake et al., 2015) is not on these machines and is never
downloaded: the user provides the standard image folders, for example the
unzipped `images_background` and `images_evaluation` of
github.com/brendenlake/omniglot:

    OMNIGLOT_DIR/images_background/Alphabet_of_the_Magi/character01/0709_01.png
    OMNIGLOT_DIR/images_evaluation/Angelic/character01/0965_01.png

(105x105 PNGs, black strokes on white). A folder holding alphabet folders
directly works too.
"""

import os
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf

from air_tf import scenes

_STANDARD_SPLITS = ("images_background", "images_evaluation")


def _character_folders(root: str) -> list[str]:
  """Every `ALPHABET/CHARACTER` folder under `root` that holds PNGs."""
  folders = []
  for alphabet in sorted(os.listdir(root)):
    alphabet_dir = os.path.join(root, alphabet)
    if not os.path.isdir(alphabet_dir):
      continue
    for character in sorted(os.listdir(alphabet_dir)):
      character_dir = os.path.join(alphabet_dir, character)
      if os.path.isdir(character_dir) and any(
          name.lower().endswith(".png") for name in os.listdir(character_dir)):
        folders.append(character_dir)
  return folders


def load_characters(root: str, size: int = 28) -> scenes.Labelled:
  """Loads every drawing under `root` (ALPHABET/CHARACTER/*.png).

  Args:
    root: a folder of alphabet folders.
    size: side the drawings are resized to (area averaging).

  Returns:
    Drawings `[K, size, size]` uint8 with white ink on black, as MNIST,
    labelled with character ids in order of the sorted folders.

  Raises:
    FileNotFoundError: if `root` holds no ALPHABET/CHARACTER/*.png.
    ValueError: if a PNG cannot be decoded.
  """
  folders = _character_folders(root)
  if not folders:
    raise FileNotFoundError(
        f"{root} holds no ALPHABET/CHARACTER/*.png drawings: expected the "
        f"layout of Omniglot's images_background or images_evaluation.")
  drawings, characters = [], []
  for character, folder in enumerate(folders):
    for name in sorted(os.listdir(folder)):
      if not name.lower().endswith(".png"):
        continue
      path = os.path.join(folder, name)
      try:
        grey = tf.io.decode_png(tf.io.read_file(path), channels=1)
      except tf.errors.InvalidArgumentError as error:
        raise ValueError(f"{path} is not a readable PNG: {error.message}"
                         ) from error
      drawings.append(tf.image.resize(
          255.0 - tf.cast(grey, tf.float32), (size, size), method="area"))
      characters.append(character)
  ink = np.round(tf.stack(drawings).numpy()[..., 0]).astype(np.uint8)
  return scenes.Labelled(ink, np.asarray(characters, np.int32))


def load_omniglot(omniglot_dir: str, size: int = 28, seed: int = 0,
                  test_fraction: float = 0.2) -> tuple[scenes.Labelled,
                                                       scenes.Labelled]:
  """Training and test drawings of characters the other split never has.

  With Omniglot's standard folders, images_background trains and
  images_evaluation (other alphabets) tests; otherwise a random
  `test_fraction` of the characters (every drawing of each) is held out,
  so a model is tested on characters it never saw, as with the standard
  split.

  Returns:
    (train, test) labelled drawings `[K, size, size]` uint8.
  """
  if not os.path.isdir(omniglot_dir):
    raise FileNotFoundError(f"--omniglot_dir {omniglot_dir!r} is not a "
                            f"folder; Omniglot is user-provided (README).")
  splits = [os.path.join(omniglot_dir, name) for name in _STANDARD_SPLITS]
  if all(os.path.isdir(split) for split in splits):
    return tuple(load_characters(split, size) for split in splits)
  drawings = load_characters(omniglot_dir, size)
  characters = np.unique(drawings.labels)
  num_test = max(1, int(round(test_fraction * len(characters))))
  if num_test >= len(characters):
    raise ValueError(f"{omniglot_dir} has {len(characters)} characters: too "
                     f"few to hold {num_test} out for testing.")
  held_out = np.random.default_rng(seed).permutation(characters)[:num_test]
  tested = np.isin(drawings.labels, held_out)
  return tuple(scenes.Labelled(drawings.images[part], drawings.labels[part])
               for part in (~tested, tested))


def multi_omniglot(omniglot_dir: str, num_train: int, num_test: int,
                   seed: int = 0, canvas_size: int = 50,
                   counts: Sequence[int] = (0, 1, 2),
                   test_counts: Optional[Sequence[int]] = None,
                   layout: str = "ink_apart"
                   ) -> tuple[scenes.Scenes, scenes.Scenes]:
  """Multi-character scenes built like multi-MNIST (`mnist.multi_mnist`).

  Each 28x28 drawing is shrunk by ~Normal(1.3, 0.1) and placed as `layout`
  says (`scenes.scatter_objects`).

  Returns:
    (train, test) `Scenes`, test built from held-out drawings.
  """
  train, test = load_omniglot(omniglot_dir, seed=seed)
  return (scenes.scatter_objects(scenes.shrink(train.images, seed), num_train,
                               seed, canvas_size, counts, train.labels,
                               layout),
          scenes.scatter_objects(scenes.shrink(test.images, seed + 1), num_test,
                               seed + 1, canvas_size, test_counts or counts,
                               test.labels, layout))
