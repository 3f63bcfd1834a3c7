"""MNIST from files on this machine: the package's copy, idx folders and
.npz files, and clear errors for anything else."""

import gzip
import os

import numpy as np
import pytest

from air_tf import mnist

def test_real_mnist_is_there_offline():
  train, test = mnist.load_mnist()
  assert train.images.shape == (60000, 28, 28)
  assert test.images.shape == (10000, 28, 28)
  assert train.images.dtype == np.uint8 and train.images.max() > 250
  np.testing.assert_array_equal(np.unique(test.labels), np.arange(10))
  assert 900 < np.sum(test.labels == 0) < 1100

def _write_idx(path, array):
  magic = 2051 if array.ndim == 3 else 2049
  header = np.array([magic, *array.shape], ">i4").tobytes()
  with gzip.open(path, "wb") as f:
    f.write(header + array.tobytes())

def test_user_idx_folder_and_npz_load_the_same(tmp_path):
  rng = np.random.default_rng(0)
  train = rng.integers(0, 256, [5, 28, 28], dtype=np.uint8)
  test = rng.integers(0, 256, [3, 28, 28], dtype=np.uint8)
  train_labels = rng.integers(0, 10, [5], dtype=np.uint8)
  test_labels = rng.integers(0, 10, [3], dtype=np.uint8)
  _write_idx(tmp_path / "train-images-idx3-ubyte.gz", train)
  _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", test)
  _write_idx(tmp_path / "train-labels-idx1-ubyte.gz", train_labels)
  _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", test_labels)
  np.savez(tmp_path / "mnist.npz", x_train=train, x_test=test,
           y_train=train_labels, y_test=test_labels)
  for path in (str(tmp_path), str(tmp_path / "mnist.npz")):
    loaded_train, loaded_test = mnist.load_mnist(path)
    np.testing.assert_array_equal(loaded_train.images, train)
    np.testing.assert_array_equal(loaded_test.images, test)
    np.testing.assert_array_equal(loaded_train.labels, train_labels)
    np.testing.assert_array_equal(loaded_test.labels, test_labels)
  # Without label files the classes are unknown (-1), not an error.
  os.remove(tmp_path / "train-labels-idx1-ubyte.gz")
  np.testing.assert_array_equal(mnist.load_mnist(str(tmp_path))[0].labels, -1)

def test_bad_mnist_paths_say_what_was_expected(tmp_path):
  with pytest.raises(FileNotFoundError, match="idx"):
    mnist.load_mnist(str(tmp_path))
  with pytest.raises(FileNotFoundError, match="neither"):
    mnist.load_mnist(str(tmp_path / "nothing.bin"))
  np.savez(tmp_path / "bad.npz", x_train=np.zeros([2, 28, 28]))
  with pytest.raises(ValueError, match="x_test"):
    mnist.load_mnist(str(tmp_path / "bad.npz"))
  (tmp_path / "train-images-idx3-ubyte").write_bytes(b"garbage" * 10)
  (tmp_path / "t10k-images-idx3-ubyte").write_bytes(b"garbage" * 10)
  with pytest.raises(ValueError, match="not an idx3"):
    mnist.load_mnist(str(tmp_path))
