"""Table-top scenes drawn by MuJoCo: the same geometry as air_tf's own
renderer draws, and the same ground truth. Skipped, saying why, where
MuJoCo cannot render (no package, no EGL)."""

import numpy as np
import pytest

from air_tf import datasets
from air_tf import mujoco_scenes
from air_tf import tabletop
from air_tf.tabletop_renderer import Camera

_REASON = mujoco_scenes.unavailable_reason()
needs_mujoco = pytest.mark.skipif(_REASON is not None, reason=str(_REASON))
_CAMERA = Camera(image_size=32)


def _objects(images: np.ndarray, table: np.ndarray) -> np.ndarray:
  """`[K, H, W]` pixels that are not the table's colour."""
  return np.abs(images.astype(int) - table.astype(int)).max(-1) > 12


@pytest.fixture(scope="module")
def both():
  """The same eight scenes drawn by air_tf's renderer and by MuJoCo."""
  if _REASON is not None:
    pytest.skip(_REASON)
  drawn = tabletop.tabletop_scenes(8, seed=4, image_size=32,
                                   jit_compile=False)
  mujoco = tabletop.tabletop_scenes(8, seed=4, image_size=32,
                                    jit_compile=False,
                                    scene_renderer="mujoco")
  return drawn, mujoco


@needs_mujoco
def test_mujoco_draws_the_same_objects_where_air_tf_does(both):
  drawn, mujoco = both
  table = drawn.images[drawn.counts == 0][0, 0, 0]
  np.testing.assert_array_equal(mujoco.images[drawn.counts == 0], np.broadcast_to(
      table, mujoco.images[drawn.counts == 0].shape))
  ours, theirs = _objects(drawn.images, table), _objects(mujoco.images, table)
  overlap = (ours & theirs).sum((1, 2)) / np.maximum((ours | theirs).sum(
      (1, 2)), 1)
  has_objects = drawn.counts > 0
  assert has_objects.sum() >= 4
  assert (overlap[has_objects] > 0.8).all(), overlap
  # Shaded alike: the colours of the pixels both call object agree.
  both_objects = ours & theirs
  difference = np.abs(drawn.images.astype(int) - mujoco.images.astype(int))
  assert np.median(difference[both_objects]) < 16


@needs_mujoco
def test_mujoco_scenes_keep_the_generator_s_ground_truth(both):
  drawn, mujoco = both
  for field in ("counts", "identities", "poses", "boxes"):
    np.testing.assert_array_equal(getattr(mujoco, field), getattr(drawn, field))


@needs_mujoco
def test_a_cube_looks_the_same_after_a_quarter_turn_and_not_an_eighth():
  cube = np.array([[0]])
  pose = lambda angle: np.array([[[0.1, -0.1, angle]]])
  images = [mujoco_scenes.render_scenes(cube, pose(angle), _CAMERA)[0]
            for angle in (0.3, 0.3 + np.pi / 2, 0.3 + np.pi / 4)]
  difference = lambda a, b: np.abs(a.astype(int) - b.astype(int)).mean()
  assert difference(images[0], images[1]) < 1.0
  assert difference(images[0], images[2]) > 3 * difference(images[0],
                                                            images[1]) + 0.5


def test_scene_renderer_is_for_tabletop_scenes_and_known_ones():
  with pytest.raises(ValueError, match="tabletop dataset only"):
    datasets.DataConfig(dataset="multi_mnist", scene_renderer="mujoco")
  with pytest.raises(ValueError, match="Unknown scene_renderer"):
    datasets.DataConfig(dataset="tabletop", scene_renderer="blender")
  with pytest.raises(ValueError, match="scene_renderer must be one of"):
    tabletop.tabletop_scenes(1, seed=0, scene_renderer="blender")
