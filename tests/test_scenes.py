"""Scenes of objects: counts and boxes that match the images, layouts,
sizes, labels, determinism, and objects that do not fit."""

import numpy as np
import pytest

from air_tf import scenes

def _blobs(count=20, size=8, seed=0):
  rng = np.random.default_rng(seed)
  objects = np.zeros([count, size, size], np.uint8)
  for k in range(count):
    top, left = rng.integers(0, 3, size=2)
    objects[k, top:top + 4, left:left + 5] = rng.integers(50, 255)
  return objects

def test_counts_and_boxes_match_the_images():
  placed = scenes.scatter_objects(_blobs(), 300, seed=1, canvas_size=24)
  for image, count, boxes in zip(placed.images, placed.counts, placed.boxes):
    covered = np.zeros_like(image, bool)
    for ymin, xmin, ymax, xmax in boxes[:count].astype(int):
      assert ymax - ymin == 4 and xmax - xmin == 5  # Tight around the ink.
      assert image[ymin:ymax, xmin:xmax].all()  # Blobs are solid.
      covered[ymin:ymax, xmin:xmax] = True
    assert not image[~covered].any()  # No ink outside the boxes.
    np.testing.assert_array_equal(boxes[count:], 0.0)
  assert set(placed.counts) == {0, 1, 2}
  frequencies = np.bincount(placed.counts) / len(placed)
  np.testing.assert_allclose(frequencies, [1 / 3] * 3, atol=0.08)

def _distinct_objects(num_objects=12, seed=0):
  """Ragged blobs (so that boxes can overlap while inks stay apart), each
  with its own ink value 100 + k."""
  rng = np.random.default_rng(seed)
  objects = np.zeros([num_objects, 10, 10], np.uint8)
  for k in range(num_objects):
    objects[k, rng.integers(0, 3):, :3] = 100 + k  # An L: a vertical bar
    objects[k, 7:, rng.integers(3, 7):] = 100 + k  # and a foot.
  return objects

def test_ink_apart_inks_never_touch_but_boxes_may_overlap():
  objects = _distinct_objects()
  placed = scenes.scatter_objects(objects, 400, seed=5, canvas_size=20,
                                counts=(2,))
  boxes_overlapped = 0
  for image, boxes in zip(placed.images, placed.boxes):
    masks = [image == value for value in np.unique(image[image > 0])]
    # Each object's ink is there whole: nothing was painted over.
    assert sum(mask.sum() for mask in masks) == (image > 0).sum()
    if len(masks) == 2:  # Two copies of one object can't be told apart.
      first, second = masks
      grown = np.pad(first, 1)
      near = np.any([grown[dy:dy + 20, dx:dx + 20] for dy in range(3)
                     for dx in range(3)], axis=0)
      assert not (near & second).any()  # Not even diagonal neighbours.
    (a0, b0, c0, d0), (a1, b1, c1, d1) = boxes.astype(int)
    boxes_overlapped += a0 < c1 and a1 < c0 and b0 < d1 and b1 < d0
    for ymin, xmin, ymax, xmax in boxes.astype(int):
      ink = image[ymin:ymax, xmin:xmax] > 0
      # Tight ink boxes: ink on every edge row and column.
      assert ink[0].any() and ink[-1].any()
      assert ink[:, 0].any() and ink[:, -1].any()
  assert boxes_overlapped > 20  # "As close as non-overlapping allows."

def test_pyro_layout_adds_whole_objects_and_never_saturates():
  values = np.array([100, 100, 100, 200, 200])
  objects = np.zeros([5, 12, 12], np.uint8)
  objects[:, 2:10, 3:9] = values[:, np.newaxis, np.newaxis]
  placed = scenes.scatter_objects(objects, 400, seed=3, canvas_size=24,
                                labels=np.arange(5), layout="pyro")
  overlapping = 0
  for image, count, boxes, labels in zip(placed.images, placed.counts,
                                         placed.boxes, placed.labels):
    assert image.max() <= 255  # 200 + 100 would saturate: redrawn.
    # The objects are added whole: all their ink is there.
    assert image.sum(dtype=np.int64) == 48 * values[labels[:count]].sum()
    for ymin, xmin, ymax, xmax in boxes[:count].astype(int):
      assert (ymax - ymin, xmax - xmin) == (8, 6)
      # Whole 12x12 images placed as Pyro does: corner in [0, 24 - 12).
      assert 0 <= ymin - 2 < 12 and 0 <= xmin - 3 < 12
    if count == 2:
      (a0, b0, c0, d0), (a1, b1, c1, d1) = boxes.astype(int)
      overlapping += a0 < c1 and a1 < c0 and b0 < d1 and b1 < d0
  assert overlapping > 10 and (placed.images == 200).any()
  with pytest.raises(ValueError, match="Unknown layout 'touching'"):
    scenes.scatter_objects(objects, 1, seed=0, layout="touching")

def test_resize_uniformly_draws_every_side_in_range():
  objects = np.full([400, 28, 28], 200, np.uint8)
  resized = scenes.resize_uniformly(objects, (14, 28), seed=0)
  sides = np.array([image.shape for image in resized])
  np.testing.assert_array_equal(sides[:, 0], sides[:, 1])
  assert set(sides[:, 0]) == set(range(14, 29))
  assert all(image.min() == 200 for image in resized)  # Area averaging.
  np.testing.assert_array_equal(
      scenes.resize_uniformly(objects[:3], (28, 28), seed=1)[0], objects[0])
  with pytest.raises(ValueError, match="1 <= min <= max"):
    scenes.resize_uniformly(objects, (20, 14), seed=0)

def test_labels_follow_their_objects():
  objects = np.zeros([6, 8, 8], np.uint8)
  for k in range(6):
    objects[k, 2:6, 1:6] = 100 + k  # The ink's value tells the object.
  labels = np.array([7, 3, 9, 0, 5, 1], np.int32)
  placed = scenes.scatter_objects(objects, 100, seed=2, canvas_size=24,
                                labels=labels)
  for image, count, boxes, scene_labels in zip(
      placed.images, placed.counts, placed.boxes, placed.labels):
    for (ymin, xmin, _, _), label in zip(boxes[:count].astype(int),
                                         scene_labels[:count]):
      assert label == labels[image[ymin, xmin] - 100]
    np.testing.assert_array_equal(scene_labels[count:], -1)
  unlabelled = scenes.scatter_objects(objects, 100, seed=2, canvas_size=24)
  np.testing.assert_array_equal(unlabelled.labels, -1)
  np.testing.assert_array_equal(unlabelled.images, placed.images)
  with pytest.raises(ValueError, match="6 objects but 2 labels"):
    scenes.scatter_objects(objects, 1, seed=0, labels=labels[:2])

def test_scenes_are_deterministic_given_the_seed():
  a = scenes.scatter_objects(_blobs(), 50, seed=3, canvas_size=24)
  b = scenes.scatter_objects(_blobs(), 50, seed=3, canvas_size=24)
  c = scenes.scatter_objects(_blobs(), 50, seed=4, canvas_size=24)
  np.testing.assert_array_equal(a.images, b.images)
  assert not np.array_equal(a.images, c.images)

def test_chosen_counts_only():
  placed = scenes.scatter_objects(_blobs(), 100, seed=0, canvas_size=24,
                                counts=(0, 2))
  assert set(placed.counts) == {0, 2}

def test_objects_larger_than_the_canvas_are_rejected():
  with pytest.raises(ValueError, match="do not fit"):
    scenes.scatter_objects(_blobs(), 1, seed=0, canvas_size=4)

def test_blank_objects_are_rejected():
  with pytest.raises(ValueError, match="some ink"):
    scenes.scatter_objects(np.zeros([2, 8, 8], np.uint8), 1, seed=0)

def test_objects_that_cannot_be_kept_apart_are_rejected():
  with pytest.raises(ValueError, match="Could not place 3 objects"):
    # Three 4x5 blobs never fit apart on 9x9.
    scenes.scatter_objects(_blobs(), 1, seed=0, canvas_size=9, counts=(3,))

def test_shrink_scales_each_object_by_its_own_factor():
  objects = np.zeros([200, 28, 28], np.uint8)
  objects[:, 4:24, 4:24] = 200
  shrunk = scenes.shrink(objects, seed=0, mean=1.3, std=0.1)
  sizes = np.array([image.shape[0] for image in shrunk])
  assert all(image.shape[0] == image.shape[1] for image in shrunk)
  # Pyro's sides: int(28 / factor), factor ~ Normal(1.3, 0.1).
  factors = np.random.default_rng(0).normal(1.3, 0.1, 200)
  np.testing.assert_array_equal(sizes, (28 / factors).astype(int))
  assert len(set(sizes)) > 2
  for image, size in zip(shrunk, sizes):
    ink = image > 100  # The 20/28 solid square, shrunk with the image.
    assert abs(ink.sum() - (20 / 28 * size) ** 2) <= 4 * size
