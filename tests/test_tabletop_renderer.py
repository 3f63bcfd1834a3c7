"""The fixed table-top renderer: exact silhouettes where they are known,
gradients against finite differences, occlusion, batches and XLA."""

import numpy as np
import pytest
import tensorflow as tf

from air_tf import shapes
from air_tf.tabletop_renderer import Camera, TabletopRenderer, camera_rays

_CAMERA = Camera(image_size=32)
_CUBE, _SPHERE, _CYLINDER = range(3)


def _scene(identities, poses):
  """One scene of the given objects, as the renderer's inputs."""
  n = len(identities)
  return (tf.ones([1, n]), tf.one_hot([identities], shapes.NUM_SHAPES),
          tf.constant([poses], tf.float32))


def test_sphere_silhouette_is_exact():
  renderer = TabletopRenderer(_CAMERA, edge_softness=1e-3)
  centre = np.array([0.2, -0.1, shapes.SHAPES[_SPHERE].half_height])
  radius = shapes.SHAPES[_SPHERE].half_height
  coverage = renderer.silhouettes(tf.one_hot([_SPHERE], 3),
                                  [[0.2, -0.1, 0.7]]).numpy()[0].ravel()
  origin, directions = camera_rays(_CAMERA)
  # Distance from the centre to each ray (the rays point away from it).
  along = (centre - origin) @ directions.T
  miss = np.linalg.norm(origin + along[:, None] * directions - centre,
                        axis=1) - radius
  clear = np.abs(miss) > 0.01  # A quarter pixel from the outline.
  assert clear.sum() > 900 and (miss < 0).sum() > 20
  np.testing.assert_array_equal(coverage[clear] > 0.5, miss[clear] < 0)


def test_empty_scene_is_the_table_and_absent_objects_do_not_show():
  renderer = TabletopRenderer(_CAMERA)
  presence, identity, pose = _scene([_CUBE, _SPHERE], [[0.0, 0.0, 0.3],
                                                       [0.4, 0.3, 0.0]])
  empty = renderer(tf.zeros_like(presence), identity, pose).numpy()
  np.testing.assert_allclose(empty, np.broadcast_to(empty[0, 0, 0],
                                                    empty.shape), atol=1e-6)
  only_cube = renderer(tf.constant([[1.0, 0.0]]), identity, pose)
  cube_alone = renderer(*_scene([_CUBE], [[0.0, 0.0, 0.3]]))
  np.testing.assert_allclose(only_cube, cube_alone, atol=1e-6)


def test_each_shape_shows_in_its_colour():
  renderer = TabletopRenderer(_CAMERA)
  for index in range(shapes.NUM_SHAPES):
    image = renderer(*_scene([index], [[0.0, 0.0, 0.2]])).numpy()[0]
    covered = renderer.silhouettes(tf.one_hot([index], 3),
                                   [[0.0, 0.0, 0.2]]).numpy()[0] > 0.99
    assert covered.sum() > 10
    dominant = np.argmax(shapes.SHAPES[index].colour)
    assert np.all(np.argmax(image[covered], axis=-1) == dominant)


def test_the_nearer_object_hides_the_farther_one():
  renderer = TabletopRenderer(_CAMERA)
  # The camera looks down along +y: the sphere stands in front, 0.01 from
  # the cube's front face.
  front = [[0.0, -0.25, 0.0]]
  back = [[0.0, 0.29, 0.0]]
  scene = renderer(*_scene([_SPHERE, _CUBE], front + back)).numpy()[0]
  sphere = renderer.silhouettes(tf.one_hot([_SPHERE], 3), front).numpy()[0]
  cube = renderer.silhouettes(tf.one_hot([_CUBE], 3), back).numpy()[0]
  both = (sphere > 0.99) & (cube > 0.99)
  assert both.sum() > 3
  sphere_alone = renderer(*_scene([_SPHERE], front)).numpy()[0]
  np.testing.assert_allclose(scene[both], sphere_alone[both], atol=0.02)


def _loss(renderer, weights, identities, poses):
  presence, identity, _ = _scene(identities, poses)
  return lambda pose: tf.reduce_sum(
      weights * renderer(presence, identity, pose[tf.newaxis]))


@pytest.mark.parametrize("gradients", ["autodiff", "finite_differences"])
def test_pose_gradients_match_finite_differences(gradients):
  # Softer edges than the default, so that a step of 1e-3 sees a smooth
  # image; a cube (edges, faces and rotation show) partly behind a sphere.
  renderer = TabletopRenderer(_CAMERA, edge_softness=0.03,
                              gradients=gradients,
                              finite_difference_step=1e-3)
  reference = TabletopRenderer(_CAMERA, edge_softness=0.03)
  weights = tf.constant(np.random.default_rng(0).uniform(
      size=[1, 32, 32, 3]), tf.float32)
  poses = [[0.05, 0.2, 0.4], [0.1, -0.2, 0.0]]
  loss = _loss(renderer, weights, [_CUBE, _SPHERE], poses)
  pose = tf.constant(poses, tf.float32)
  with tf.GradientTape() as tape:
    tape.watch(pose)
    value = loss(pose)
  gradient = tape.gradient(value, pose).numpy()
  reference_loss = _loss(reference, weights, [_CUBE, _SPHERE], poses)
  step = 1e-3
  numeric = np.zeros_like(gradient)
  for n in range(2):
    for j in range(3):
      offset = np.zeros([2, 3], np.float32)
      offset[n, j] = step
      numeric[n, j] = (reference_loss(pose + offset) -
                       reference_loss(pose - offset)).numpy() / (2 * step)
  assert np.abs(numeric).max() > 1.0  # The pose shows in the image.
  # Within 10% as a vector; the searches along the rays are accurate to
  # ~1e-5, and the misses' depth (which only orders occlusions) is an
  # approximation.
  assert (np.linalg.norm(gradient - numeric) <
          0.1 * np.linalg.norm(numeric)), (gradient, numeric)
  assert np.all(np.sign(gradient[np.abs(numeric) > 1.0]) ==
                np.sign(numeric[np.abs(numeric) > 1.0]))


def test_batch_unknown_size_and_xla_agree_with_one_scene_at_a_time():
  renderer = TabletopRenderer(_CAMERA)
  rng = np.random.default_rng(2)
  presence = tf.constant(rng.integers(0, 2, [3, 2]), tf.float32)
  identity = tf.one_hot(rng.integers(0, 3, [3, 2]), 3)
  pose = tf.constant(rng.uniform([-0.6, -0.6, 0], [0.6, 0.6, 6], [3, 2, 3]),
                     tf.float32)
  batch = renderer(presence, identity, pose).numpy()
  for b in range(3):
    np.testing.assert_allclose(
        batch[b], renderer(presence[b:b + 1], identity[b:b + 1],
                           pose[b:b + 1])[0], atol=1e-5)
  signature = [tf.TensorSpec([None, 2], tf.float32),
               tf.TensorSpec([None, 2, 3], tf.float32),
               tf.TensorSpec([None, 2, 3], tf.float32)]
  for jit_compile in (False, True):
    compiled = tf.function(renderer.__call__, input_signature=signature,
                           jit_compile=jit_compile)
    np.testing.assert_allclose(compiled(presence, identity, pose), batch,
                               atol=1e-4)


def test_bad_arguments_are_refused():
  with pytest.raises(ValueError, match="gradients must be one of"):
    TabletopRenderer(gradients="numerical")
  with pytest.raises(ValueError, match="edge_softness must be > 0"):
    TabletopRenderer(edge_softness=0.0)
