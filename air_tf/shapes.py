"""The solid primitives of the table-top scenes: a red cube, a blue sphere
and a green cylinder, each standing on the table, as signed distances.

Every fact about a shape (size, colour, symmetry about the vertical axis) is
declared here once; the renderer, the scene generator and the metrics read
it from here.
"""

import math
from typing import NamedTuple

import numpy as np
import tensorflow as tf


class Shape(NamedTuple):
  """One primitive, standing on the table.

  Every shape is one member of a family: a rounded square of half-side
  `half_width` and corner radius `corner` in horizontal section, extruded
  to half-height `half_height` with vertical edges rounded by `rounding`
  (a cube: no rounding; a cylinder: a round section; a sphere: both
  round). One signed distance then serves all three, and a shape is four
  numbers.

  Attributes:
    name: "cube", "sphere" or "cylinder".
    colour: (r, g, b) albedo in [0, 1].
    half_width: half the side of the horizontal section's bounding square.
    corner: radius of that section's rounded corners (= half_width: round).
    half_height: half the height; also the centre's height above the table.
    rounding: radius of the rounding of the top and bottom edges.
    symmetry: rotation about the vertical axis (radians) that maps the
      shape onto itself; 0 where every rotation does (the rotation does not
      show).
  """
  name: str
  colour: tuple[float, float, float]
  half_width: float
  corner: float
  half_height: float
  rounding: float
  symmetry: float

  @property
  def footprint_radius(self) -> float:
    """Radius of the smallest vertical cylinder about the centre that holds
    the shape: two shapes whose centres are further apart than the sum of
    theirs cannot interpenetrate."""
    return (self.half_width - self.corner) * math.sqrt(2) + self.corner

  @property
  def bounding_radius(self) -> float:
    """Radius of the smallest sphere about the centre that holds it."""
    if self.rounding == self.half_height:
      return max(self.footprint_radius, self.half_height)
    return math.hypot(self.footprint_radius, self.half_height)


SHAPES = (
    Shape("cube", (0.85, 0.12, 0.10), half_width=0.25, corner=0.0,
          half_height=0.25, rounding=0.0, symmetry=math.pi / 2),
    Shape("sphere", (0.12, 0.25, 0.85), half_width=0.28, corner=0.28,
          half_height=0.28, rounding=0.28, symmetry=0.0),
    Shape("cylinder", (0.15, 0.70, 0.20), half_width=0.22, corner=0.22,
          half_height=0.25, rounding=0.0, symmetry=0.0),
)
NAMES = tuple(shape.name for shape in SHAPES)
NUM_SHAPES = len(SHAPES)
# How far from an object's centre a ray must pass to miss it, whatever
# its identity.
MAX_BOUNDING_RADIUS = max(shape.bounding_radius for shape in SHAPES)
# Every shape looks the same after this turn about the vertical axis (the
# cube's quarter turn; the others look the same after any turn).
ROTATION_PERIOD = max(shape.symmetry for shape in SHAPES)
# The largest centre height.
MAX_HALF_HEIGHT = max(shape.half_height for shape in SHAPES)

# Inside a shape the distance is the largest of its faces' distances, a
# maximum whose kinks make the least distance along a ray a poor function
# of the pose (its gradient jumps from face to face). A smooth maximum over
# this width (world units, a quarter pixel) evens them out, and rounds the
# edges by as much.
_INSIDE_SMOOTHING = 0.01


def _safe_norm(vector: tf.Tensor) -> tf.Tensor:
  """Euclidean norm over the last axis whose gradient is finite at 0."""
  return tf.sqrt(tf.reduce_sum(tf.square(vector), axis=-1) + 1e-12)


def _rounded_box(offset: tf.Tensor) -> tf.Tensor:
  """Distance of a box (rounding added by the caller), `[..., 2] -> [...]`:
  `offset` is |point| minus the half-sizes per axis."""
  first, second = tf.unstack(offset, axis=-1)
  smooth_max = tf.maximum(first, second) + _INSIDE_SMOOTHING * tf.nn.softplus(
      -tf.abs(first - second) / _INSIDE_SMOOTHING)
  return _safe_norm(tf.maximum(offset, 0.0)) + tf.minimum(smooth_max, 0.0)


def signed_distance(points: tf.Tensor, parameters: tf.Tensor) -> tf.Tensor:
  """Signed distance of points to shapes, `[..., 3], [..., 4] -> [...]`.

  Args:
    points: positions in the object's frame with the origin on the table
      under its centre, z up, unrotated.
    parameters: (half_width, corner, half_height, rounding) of each
      point's shape (`shape_parameters`), broadcast against `points`.

  Returns:
    Negative inside, positive outside.
  """
  half_width, corner, half_height, rounding = tf.unstack(parameters, axis=-1)
  section = _rounded_box(tf.abs(points[..., :2]) -
                         (half_width - corner)[..., tf.newaxis]) - corner
  height = tf.abs(points[..., 2] - half_height) - half_height + rounding
  return _rounded_box(tf.stack([section + rounding, height], axis=-1)) - (
      rounding)


def shape_parameters() -> np.ndarray:
  """`[S, 4]` (half_width, corner, half_height, rounding) of each shape;
  a one-hot identity times this picks a shape's."""
  return np.array([[shape.half_width, shape.corner, shape.half_height,
                    shape.rounding] for shape in SHAPES], np.float32)


def colours() -> np.ndarray:
  """`[S, 3]` albedo of each shape."""
  return np.array([shape.colour for shape in SHAPES], np.float32)


def rotation_error(predicted: np.ndarray, true: np.ndarray,
                   identity: np.ndarray) -> np.ndarray:
  """Rotation error about the vertical axis, modulo each shape's symmetry.

  Args:
    predicted, true: `[M]` angles in radians.
    identity: `[M]` index into `SHAPES` of the true shape.

  Returns:
    `[M]` absolute errors in radians, in [0, symmetry / 2]; NaN for shapes
    whose rotation does not show (sphere, cylinder).
  """
  periods = np.array([shape.symmetry for shape in SHAPES])[identity]
  shown = periods > 0
  period = np.where(shown, periods, 1.0)
  wrapped = np.mod(np.asarray(predicted) - np.asarray(true), period)
  error = np.minimum(wrapped, period - wrapped)
  return np.where(shown, error, np.nan)


def distance_from_seam(angle: np.ndarray) -> np.ndarray:
  """How far angles lie from the seam of the period they are stated in.

  Angles are stated in `[-ROTATION_PERIOD / 2, ROTATION_PERIOD / 2)` (as
  `supervised.py` states its labels): at the seam, the range's two ends,
  two cubes that look the same carry statements a whole period apart.

  Args:
    angle: `[M]` angles in radians.

  Returns:
    `[M]` distances in radians, in [0, ROTATION_PERIOD / 2].
  """
  half = ROTATION_PERIOD / 2
  return half - np.abs(np.mod(np.asarray(angle) + half, ROTATION_PERIOD) -
                       half)
