import os

import numpy as np
import pytest
import tensorflow as tf

from air_tf import omniglot


def _write_drawing(path, row):
  """A 105x105 Omniglot-like PNG: white paper, one black stroke."""
  image = np.full([105, 105, 1], 255, np.uint8)
  image[row:row + 8, 20:80] = 0
  os.makedirs(os.path.dirname(path), exist_ok=True)
  tf.io.write_file(path, tf.io.encode_png(image))


def _omniglot_folder(root, splits=("images_background", "images_evaluation")):
  for split_index, split in enumerate(splits):
    for alphabet in ("Alpha", "Beta"):
      for character in ("character01", "character02"):
        for drawer in range(1, 4):
          _write_drawing(os.path.join(root, split, alphabet, character,
                                      f"0{split_index}{drawer:02d}_0{drawer}.png"),
                         row=10 * drawer)
  return root


def test_drawings_load_as_white_ink_on_black(tmp_path):
  root = _omniglot_folder(str(tmp_path), splits=("images_background",))
  loaded = omniglot.load_characters(os.path.join(root, "images_background"))
  drawings, characters = loaded.images, loaded.labels
  assert drawings.shape == (12, 28, 28) and drawings.dtype == np.uint8
  np.testing.assert_array_equal(np.bincount(characters), [3, 3, 3, 3])
  # The stroke (black on paper) becomes bright ink; the paper dark.
  assert drawings[0].max() > 200 and drawings[0][0, 0] == 0
  assert (drawings[0] > 100).mean() < 0.2


def test_standard_folders_split_background_and_evaluation(tmp_path):
  root = _omniglot_folder(str(tmp_path))
  train, test = omniglot.load_omniglot(root)
  assert len(train.images) == 12 and len(test.images) == 12


def test_a_plain_folder_holds_out_whole_characters(tmp_path):
  root = _omniglot_folder(str(tmp_path), splits=("mine",))
  train, test = omniglot.load_omniglot(os.path.join(root, "mine"),
                                       test_fraction=0.25)
  # One of the four characters, with all three of its drawings.
  assert len(train.images) == 9 and len(test.labels) == 3
  assert len(np.unique(test.labels)) == 1
  assert not set(train.labels) & set(test.labels)


def test_a_plain_folder_of_one_character_cannot_be_split(tmp_path):
  folder = tmp_path / "mine" / "Alpha" / "character01"
  for drawer in range(3):
    _write_drawing(str(folder / f"{drawer}.png"), row=10 + drawer)
  with pytest.raises(ValueError, match="1 characters: too few"):
    omniglot.load_omniglot(str(tmp_path / "mine"))


def test_multi_omniglot_scenes(tmp_path):
  root = _omniglot_folder(str(tmp_path))
  train, test = omniglot.multi_omniglot(root, num_train=20, num_test=10,
                                        counts=(1, 2), test_counts=(3,))
  assert train.images.shape == (20, 50, 50)
  assert set(np.unique(train.counts)) <= {1, 2}
  np.testing.assert_array_equal(test.counts, 3)
  assert ((test.labels >= 0) & (test.labels < 4)).all()
  assert (train.images.reshape(20, -1).max(axis=1) > 100).all()


def test_missing_or_empty_folders_say_what_was_expected(tmp_path):
  with pytest.raises(FileNotFoundError, match="user-provided"):
    omniglot.load_omniglot(str(tmp_path / "nowhere"))
  with pytest.raises(FileNotFoundError, match="ALPHABET/CHARACTER"):
    omniglot.load_omniglot(str(tmp_path))
  bad = tmp_path / "a" / "c"
  bad.mkdir(parents=True)
  (bad / "x.png").write_bytes(b"not a png")
  with pytest.raises(ValueError, match="not a readable PNG"):
    omniglot.load_characters(str(tmp_path))
