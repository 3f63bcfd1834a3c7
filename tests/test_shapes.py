"""The primitives' signed distances and the symmetry-aware rotation error."""

import math

import numpy as np
import tensorflow as tf

from air_tf import shapes

_CUBE, _SPHERE, _CYLINDER = range(3)


def _distances(points):
  """`[P, 3]` points -> `[P, S]` distance to each shape."""
  points = tf.constant(points, tf.float32)[:, tf.newaxis]
  return shapes.signed_distance(points, shapes.shape_parameters()).numpy()


def test_distances_at_known_points():
  cube, sphere, cylinder = shapes.SHAPES
  above_cube = [0.0, 0.0, 2 * cube.half_height + 0.1]
  sphere_centre = [0.0, 0.0, sphere.half_height]
  beside_cylinder = [0.22 + 0.3, 0.0, cylinder.half_height]
  distances = _distances([above_cube, sphere_centre, beside_cylinder])
  np.testing.assert_allclose(distances[0, _CUBE], 0.1, atol=1e-5)
  np.testing.assert_allclose(distances[1, _SPHERE], -sphere.half_height,
                             atol=1e-5)
  np.testing.assert_allclose(distances[2, _CYLINDER], 0.3, atol=1e-5)
  # Past a cube's corner the distance is to the corner.
  corner = np.array([0.25, 0.25, 0.5])
  np.testing.assert_allclose(_distances([corner + 0.1])[0, _CUBE],
                             math.sqrt(3) * 0.1, atol=1e-5)


def test_every_shape_stands_on_the_table_within_its_radii():
  rng = np.random.default_rng(0)
  points = rng.uniform(-0.6, 0.6, [20000, 3]) + [0.0, 0.0, 0.3]
  inside = _distances(points) < 0
  for index, shape in enumerate(shapes.SHAPES):
    hits = points[inside[:, index]]
    assert len(hits) > 100
    assert hits[:, 2].min() >= -1e-6  # On the table, not in it.
    centre = np.array([0.0, 0.0, shape.half_height])
    assert np.linalg.norm(hits - centre, axis=1).max() <= (
        shape.bounding_radius + 1e-6)
    assert np.linalg.norm(hits[:, :2], axis=1).max() <= (
        shape.footprint_radius + 1e-6)


def test_distance_gradients_are_finite_everywhere():
  points = tf.constant([[[0.0, 0.0, 0.25]], [[0.0, 0.0, 0.28]],
                        [[1.0, 0.0, 0.0]]])
  with tf.GradientTape() as tape:
    tape.watch(points)
    distances = shapes.signed_distance(points, shapes.shape_parameters())
  assert np.all(np.isfinite(tape.gradient(distances, points).numpy()))


def test_rotation_error_is_modulo_the_cube_symmetry():
  quarter = math.pi / 2
  predicted = np.array([quarter, 0.1, quarter + 0.2, -0.3, 1.0, 1.0])
  true = np.array([0.0, 0.0, 0.0, 2 * math.pi, 0.0, 0.0])
  identity = np.array([_CUBE] * 4 + [_SPHERE, _CYLINDER])
  errors = shapes.rotation_error(predicted, true, identity)
  np.testing.assert_allclose(errors[:4], [0.0, 0.1, 0.2, 0.3], atol=1e-9)
  assert np.isnan(errors[4:]).all()  # Their rotation does not show.


def test_rotation_error_is_at_most_half_the_period():
  rng = np.random.default_rng(1)
  errors = shapes.rotation_error(rng.uniform(-10, 10, 1000),
                                 rng.uniform(-10, 10, 1000),
                                 np.zeros(1000, int))
  assert errors.min() >= 0 and errors.max() <= math.pi / 4 + 1e-9


def test_distance_from_seam_is_zero_at_the_stated_range_ends():
  degrees = np.array([-45.0, 44.0, -44.0, 0.0, 90.0, 50.0, 135.0, 10.0])
  np.testing.assert_allclose(
      np.degrees(shapes.distance_from_seam(np.radians(degrees))),
      [0.0, 1.0, 1.0, 45.0, 45.0, 5.0, 0.0, 35.0], atol=1e-9)


def test_distance_from_seam_is_the_distance_to_the_nearest_seam():
  angles = np.random.default_rng(2).uniform(-10, 10, 1000)
  seams = (np.arange(-8, 9) + 0.5) * shapes.ROTATION_PERIOD
  nearest = np.abs(angles[:, np.newaxis] - seams).min(axis=1)
  np.testing.assert_allclose(shapes.distance_from_seam(angles), nearest,
                             atol=1e-9)
