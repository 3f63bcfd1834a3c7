"""Reading users' image files for an exported AIR."""

import numpy as np
import pytest
import tensorflow as tf

from air_tf import annotate


def test_input_files_lists_folders_and_keeps_files(tmp_path):
  for name in ("b.png", "a.npy", "notes.txt", "c.JPG"):
    (tmp_path / name).write_bytes(b"")
  listed = [str(tmp_path / "a.npy"), str(tmp_path / "b.png"),
            str(tmp_path / "c.JPG")]
  assert annotate.input_files([str(tmp_path)]) == listed
  # A file named directly is kept whatever its suffix (and then rejected
  # by `read_images` with the reason).
  assert annotate.input_files([str(tmp_path / "notes.txt")]) == [
      str(tmp_path / "notes.txt")]
  with pytest.raises(FileNotFoundError, match="neither a file nor a folder"):
    annotate.input_files([str(tmp_path / "missing")])


def test_png_is_read_as_grey_in_the_unit_interval(tmp_path):
  rgb = np.zeros([4, 6, 3], np.uint8)
  rgb[1, 2] = 255
  tf.io.write_file(str(tmp_path / "x.png"), tf.io.encode_png(rgb))
  images = annotate.read_images(str(tmp_path / "x.png"))
  assert images.shape == (1, 4, 6) and images.dtype == np.float32
  assert images[0, 1, 2] == pytest.approx(1.0, abs=0.01)
  assert images.sum() == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("array, expected", [
    (np.full([3, 5, 5], 255, np.uint8), np.ones([3, 5, 5])),
    (np.full([5, 5], 0.25, np.float64), np.full([1, 5, 5], 0.25)),
])
def test_npy_stacks_and_single_images_are_read(tmp_path, array, expected):
  np.save(tmp_path / "x.npy", array)
  np.testing.assert_allclose(annotate.read_images(str(tmp_path / "x.npy")),
                             expected)


@pytest.mark.parametrize("array, reason", [
    (np.zeros([5], np.uint8), "shape"),
    (np.zeros([2, 5, 5], np.int32), "expected uint8 or floats"),
    (np.full([5, 5], 1.5, np.float32), "outside \\[0, 1\\]"),
])
def test_bad_npy_files_are_rejected_with_the_reason(tmp_path, array, reason):
  np.save(tmp_path / "x.npy", array)
  with pytest.raises(annotate.RejectedInput, match=reason):
    annotate.read_images(str(tmp_path / "x.npy"))


def test_undecodable_and_unknown_files_are_rejected(tmp_path):
  (tmp_path / "x.png").write_bytes(b"\x89PNG not really")
  with pytest.raises(annotate.RejectedInput, match="cannot be decoded"):
    annotate.read_images(str(tmp_path / "x.png"))
  with pytest.raises(annotate.RejectedInput, match="is not one of"):
    annotate.read_images(str(tmp_path / "x.gif"))


def test_fit_resizes_the_same_aspect_ratio_and_rejects_others():
  images = np.zeros([2, 100, 100], np.float32)
  images[:, :50, :50] = 1.0
  fitted = annotate.fit_to_canvas(images, (50, 50))
  assert fitted.shape == (2, 50, 50)
  np.testing.assert_allclose(fitted[:, :25, :25], 1.0, atol=1e-6)
  np.testing.assert_allclose(fitted[:, 26:, 26:], 0.0, atol=1e-6)
  same = images[:, :50, :50]
  assert annotate.fit_to_canvas(same, (50, 50)) is same
  with pytest.raises(annotate.RejectedInput, match="aspect ratio"):
    annotate.fit_to_canvas(np.zeros([1, 50, 60], np.float32), (50, 50))


def test_read_inputs_reads_every_file_in_order_as_one_at_a_time_would(
    tmp_path):
  rng = np.random.default_rng(0)
  write = lambda name, pixels: (tmp_path / name).write_bytes(
      tf.io.encode_png(pixels[..., np.newaxis]).numpy())
  write("a.png", rng.integers(0, 255, (50, 50), np.uint8))
  write("b.png", rng.integers(0, 255, (100, 100), np.uint8))
  write("c.png", rng.integers(0, 255, (50, 60), np.uint8))
  (tmp_path / "d.png").write_bytes(b"\x89PNG not really")
  np.save(tmp_path / "e.npy", rng.integers(0, 255, (3, 50, 50), np.uint8))
  write("f.png", rng.integers(0, 255, (25, 25), np.uint8))
  paths = [str(tmp_path / name) for name in
           ("a.png", "b.png", "c.png", "d.png", "e.npy", "f.png")]
  read = list(annotate.read_inputs(paths, (50, 50)))
  assert [each.path for each in read] == paths
  assert "aspect ratio" in read[2].rejected
  assert "cannot be decoded" in read[3].rejected
  assert [each.resized_from for each in read] == [
      None, [100, 100], None, None, None, [25, 25]]
  for each in read[:2] + read[4:]:
    assert each.rejected is None
    np.testing.assert_allclose(
        each.images, annotate.fit_to_canvas(
            annotate.read_images(each.path), (50, 50)), atol=1e-6)
  assert read[4].images.shape == (3, 50, 50)
