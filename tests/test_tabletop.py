"""Table-top scenes: counts, objects apart, and ground truth that matches
the pixels."""

import numpy as np
import pytest

from air_tf import shapes
from air_tf import tabletop
from air_tf.tabletop_renderer import Camera, TabletopRenderer, project

_RENDERER = TabletopRenderer(Camera(image_size=32), edge_softness=0.004)


@pytest.fixture(scope="module")
def scenes():
  return tabletop.tabletop_scenes(40, seed=3, renderer=_RENDERER,
                                 jit_compile=False)


def test_counts_slots_and_determinism(scenes):
  assert set(np.unique(scenes.counts)) == {0, 1, 2, 3}
  assert scenes.identities.shape == (40, 3)
  assert scenes.images.shape == (40, 32, 32, 3)
  present = np.arange(3)[None] < scenes.counts[:, None]
  assert np.all((scenes.identities >= 0) == present)
  assert np.all(scenes.poses[~present] == 0)
  again = tabletop.tabletop_scenes(5, seed=3, renderer=_RENDERER,
                                 jit_compile=False)
  np.testing.assert_array_equal(again.images, scenes.images[:5])
  other = tabletop.tabletop_scenes(5, seed=4, renderer=_RENDERER,
                                 jit_compile=False)
  assert not np.array_equal(other.poses, scenes.poses[:5])


def test_objects_stand_apart_on_the_table(scenes):
  width = tabletop.PLACEMENT_HALF_WIDTH
  for count, identity, pose in zip(scenes.counts, scenes.identities,
                                   scenes.poses):
    xy = pose[:count, :2]
    assert np.all(np.abs(xy) <= width)
    assert np.all((pose[:count, 2] >= 0) & (pose[:count, 2] < 2 * np.pi))
    radii = [shapes.SHAPES[i].footprint_radius for i in identity[:count]]
    for i in range(count):
      for j in range(i):
        assert np.linalg.norm(xy[i] - xy[j]) > radii[i] + radii[j]


def test_ground_truth_matches_the_pixels(scenes):
  table = scenes.images[scenes.counts == 0][0, 0, 0].astype(int)
  for image, count, identity, pose, boxes in zip(
      scenes.images, scenes.counts, scenes.identities, scenes.poses,
      scenes.boxes):
    changed = np.abs(image.astype(int) - table).max(axis=-1) > 8
    covered = np.zeros(changed.shape, bool)
    for k in range(count):
      ymin, xmin, ymax, xmax = boxes[k].astype(int)
      # Edge pixels whose centre misses may show a little of the object.
      covered[max(ymin - 1, 0):ymax + 1, max(xmin - 1, 0):xmax + 1] = True
      # The object's middle projects into its box, and its own colour
      # shows there unless a nearer object hides all of it.
      row, column = project([pose[k, 0], pose[k, 1],
                             shapes.SHAPES[identity[k]].half_height],
                            _RENDERER.camera)
      assert ymin <= row <= ymax and xmin <= column <= xmax
      dominant = np.argmax(shapes.SHAPES[identity[k]].colour)
      inside = image[ymin:ymax, xmin:xmax].reshape(-1, 3).astype(int)
      assert np.any(np.argmax(inside, axis=1) == dominant)
    assert not np.any(changed & ~covered)  # Nothing drawn outside boxes.
    assert count == 0 or changed.any()


def test_bad_counts_are_refused():
  with pytest.raises(ValueError, match="counts must be"):
    tabletop.tabletop_scenes(3, seed=0, counts=(), renderer=_RENDERER,
                                 jit_compile=False)
