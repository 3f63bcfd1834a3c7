"""A fixed, differentiable renderer of cubes, spheres and cylinders on a
table, written in TensorFlow ops: the generative model of the paper's 3D
experiment.

Each pixel is a ray from a fixed pinhole camera. An object is traced only
along the rays of a square window of pixels about its projection (the
window holds any shape anywhere on the table), moved into the object's
frame (its position on the table, its rotation about the vertical axis);
three things are found along each ray from the shape's signed distance
(`shapes.py`):

- the least signed distance along the ray (golden-section search: the
  distance to a convex shape is convex along a line; a small quadratic
  makes the point unique where a ray skims a flat face). Its sign says
  whether the ray hits; `sigmoid(-distance / edge_softness)` is a soft
  silhouette whose gradient moves edges with the pose. By the envelope
  theorem the gradient of a minimum is the gradient at the minimiser, so
  the search itself is not differentiated;
- the depth where the ray enters the shape (bisection), differentiated by
  implicit differentiation of distance = 0;
- the surface normal there (central differences of the distance), which
  shades the object: albedo x (ambient + diffuse x max(0, n . light)).

Objects are composited over the table in a soft depth order: an object
shows where it covers the ray, times 1 - coverage of every other object in
front of it, "in front" being sigmoid(depth difference / depth_softness);
the table shows where no object covers the ray. Objects do not
interpenetrate, so this is the painter's order as the softness goes to 0,
and occlusion edges stay differentiable. Nothing is learned.
"""

import math
from typing import NamedTuple

import numpy as np
import sonnet as snt
import tensorflow as tf

from air_tf import shapes

GRADIENTS = ("autodiff", "finite_differences")
# Golden-section and bisection steps: brackets of ~0.9 world units shrink
# to ~1e-5, under a thousandth of a pixel.
_SEARCH_ITERATIONS = 24
_BISECTION_ITERATIONS = 16
# The search brackets a sphere this much wider than any shape.
_SEARCH_RADIUS = shapes.MAX_BOUNDING_RADIUS + 0.02
_SLOPE_STEP = 1e-3
# A grazing ray's depth moves without bound with the pose; the implicit
# derivative divides by at most this much slope of the distance.
_MIN_ENTRY_SLOPE = 0.1
# Curvature (per world unit squared) added to the distance along a ray
# before its least value is sought; it moves a silhouette by at most
# 0.02 x 0.45^2 ~ 4e-3, a tenth of a pixel.
_LEAST_DISTANCE_CURVATURE = 0.02
# Normals are central differences over this much (world units, half a
# pixel): edges between faces shade as a narrow bevel, so that pixels stay
# continuous functions of the pose there too.
_NORMAL_STEP = 0.02
# The diffuse light of a surface seen edge on: half the largest.
_EVEN_DIFFUSE = 0.5
_FAR = 1e3


class Camera(NamedTuple):
  """A fixed pinhole camera and light.

  Attributes:
    image_size: side of the square image in pixels.
    position: (x, y, z) of the camera; the table is z = 0, z up.
    look_at: the point at the image centre.
    field_of_view: full angle in degrees.
    light: direction towards the light (normalised by the renderer).
    ambient: share of the albedo lit whatever the normal.
    table_colour: (r, g, b) albedo of the table.
  """
  image_size: int = 64
  # Sees every object whose centre is within 0.65 of the table's middle,
  # whole; an object at the middle is ~12 px wide.
  position: tuple[float, float, float] = (0.0, -2.0, 3.2)
  look_at: tuple[float, float, float] = (0.0, 0.05, 0.1)
  field_of_view: float = 40.0
  light: tuple[float, float, float] = (0.5, -0.7, 1.0)
  ambient: float = 0.35
  table_colour: tuple[float, float, float] = (0.62, 0.60, 0.56)


class CameraFrame(NamedTuple):
  """The camera's position, unit axes and half the image plane's width."""
  position: np.ndarray
  forward: np.ndarray
  right: np.ndarray
  up: np.ndarray
  half_width: float


def camera_frame(camera: Camera) -> CameraFrame:
  """Where `camera` stands and where its image's axes point."""
  position = np.array(camera.position, np.float64)
  forward = np.array(camera.look_at, np.float64) - position
  forward /= np.linalg.norm(forward)
  right = np.cross(forward, [0.0, 0.0, 1.0])
  right /= np.linalg.norm(right)
  return CameraFrame(position, forward, right, np.cross(right, forward),
                     math.tan(math.radians(camera.field_of_view) / 2))


def camera_rays(camera: Camera) -> tuple[np.ndarray, np.ndarray]:
  """Origin `[3]` and unit directions `[H * W, 3]` of every pixel's ray,
  row by row from the top left, through pixel centres."""
  frame = camera_frame(camera)
  size = camera.image_size
  centres = ((np.arange(size) + 0.5) / size * 2 - 1) * frame.half_width
  v, u = np.meshgrid(-centres, centres, indexing="ij")
  directions = (frame.forward + u[..., None] * frame.right +
                v[..., None] * frame.up)
  directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
  return (frame.position.astype(np.float32),
          directions.reshape(-1, 3).astype(np.float32))


def project(points, camera: Camera):
  """Pixel coordinates (row, column) of world points, `[..., 3] -> [..., 2]`
  (continuous: pixel centres at k + 0.5). Numpy arrays or tensors."""
  frame = camera_frame(camera)
  if isinstance(points, tf.Tensor):
    axes = tf.constant(np.stack([frame.forward, frame.right, frame.up], 1),
                       points.dtype)
    depth, u, v = tf.unstack(
        tf.linalg.matvec(axes, points - frame.position.astype(np.float32),
                         transpose_a=True), axis=-1)
    stack = tf.stack
  else:
    relative = np.asarray(points, np.float64) - frame.position
    depth, u, v = (relative @ axis for axis in (
        frame.forward, frame.right, frame.up))
    stack = np.stack
  scale = camera.image_size / 2 / frame.half_width
  return stack([camera.image_size / 2 - v / depth * scale,
                camera.image_size / 2 + u / depth * scale], axis=-1)


def _window_size(camera: Camera) -> int:
  """Side in pixels of a window that holds the image of any shape whose
  centre is within 0.8 of the table's middle (a little past where scenes
  place them), plus a pixel each side."""
  grid = np.linspace(-0.8, 0.8, 9)
  centres = np.array([[x, y, shapes.MAX_HALF_HEIGHT] for x in grid
                      for y in grid])
  # Points of the sphere that holds any shape, in 98 directions.
  directions = np.array([[x, y, z] for x in (-1, 0, 1) for y in (-1, 0, 1)
                         for z in (-1, -0.5, 0, 0.5, 1)
                         if (x, y, z) != (0, 0, 0)], np.float64)
  directions /= np.linalg.norm(directions, axis=1, keepdims=True)
  outline = project(centres[:, None] + shapes.MAX_BOUNDING_RADIUS *
                    directions, camera)
  reach = np.abs(outline - project(centres, camera)[:, None]).max()
  return min(int(math.ceil(2 * reach)) + 2, camera.image_size)


def _derivative(function, t: tf.Tensor, step: float) -> tf.Tensor:
  """Central difference of a function of depth."""
  return (function(t + step) - function(t - step)) / (2 * step)


def _newton_step(function, root: tf.Tensor) -> tf.Tensor:
  """`root` (where a falling `function` of depth crosses zero, found
  without gradients), with the gradient of that zero: -d function / d pose
  over d function / dt, the slope kept at least `_MIN_ENTRY_SLOPE` steep
  so that a grazing ray's gradient stays bounded."""
  slope = tf.minimum(_derivative(function, root, _SLOPE_STEP),
                     -_MIN_ENTRY_SLOPE)
  value = function(root)
  return root - (value - tf.stop_gradient(value)) / tf.stop_gradient(slope)


def _repeat(body, times: int, state: tuple) -> tuple:
  """`state = body(*state)`, `times` times, as one loop in the graph (the
  searches are not differentiated, and an unrolled loop would make the
  graph many times larger)."""
  return tf.while_loop(lambda *unused: True, lambda *state: body(*state),
                       state, maximum_iterations=times)


def _rotate_z(vectors: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor) -> tf.Tensor:
  """Rotates `[M, R, 3]` vectors about z by the angles of (cos, sin) `[M]`."""
  x, y, z = tf.unstack(vectors, axis=-1)
  cos, sin = cos[:, tf.newaxis], sin[:, tf.newaxis]
  return tf.stack([cos * x - sin * y, sin * x + cos * y, z], axis=-1)


def _least_depth(function, low, high):
  """Golden-section search for the depth in [low, high] `[M, R]` where the
  convex `function` of depth is least."""
  inverse_golden = (math.sqrt(5.0) - 1.0) / 2.0

  def narrow(low, high, inner_low, inner_high, at_low, at_high):
    # The minimum is in [low, inner_high] or in [inner_low, high]; each step
    # keeps one inner point and probes one new one.
    left = at_low < at_high
    high = tf.where(left, inner_high, high)
    low = tf.where(left, low, inner_low)
    probe = tf.where(left, high - inverse_golden * (high - low),
                     low + inverse_golden * (high - low))
    at_probe = function(probe)
    return (low, high, tf.where(left, probe, inner_high),
            tf.where(left, inner_low, probe),
            tf.where(left, at_probe, at_high),
            tf.where(left, at_low, at_probe))

  inner_low = high - inverse_golden * (high - low)
  inner_high = low + inverse_golden * (high - low)
  low, high, *_ = _repeat(narrow, _SEARCH_ITERATIONS, (
      low, high, inner_low, inner_high, function(inner_low),
      function(inner_high)))
  return (low + high) / 2


def _entry_depth(distance, outside, inside):
  """Bisection for where each ray enters its shape, `[M, R]`, between a
  depth outside it and one inside (where the ray misses, `inside` is
  returned)."""
  def halve(outside, inside):
    middle = (outside + inside) / 2
    entered = distance(middle) < 0
    return tf.where(entered, outside, middle), tf.where(entered, middle,
                                                        inside)

  _, inside = _repeat(halve, _BISECTION_ITERATIONS, (outside, inside))
  return inside


class _Objects(NamedTuple):
  """Each of M objects alone along the rays of its window, `[M, R_w, ...]`."""
  depth: tf.Tensor  # [M, R_w]
  coverage: tf.Tensor  # [M, R_w] soft silhouette.
  colour: tf.Tensor  # [M, R_w, 3]
  top_left: tf.Tensor  # [M, 2] int32 pixel of the window's corner.


class TabletopRenderer(snt.Module):
  """Renders scenes of up to N objects on the table, `[B, H, W, 3]`.

  It has no variables: the same object renders the training scenes (sharp
  edges) and serves as AIR's likelihood mean (softer edges, for gradients).
  """

  def __init__(self, camera: Camera = Camera(), edge_softness: float = 0.01,
               depth_softness: float = 0.03, gradients: str = "autodiff",
               finite_difference_step: float = 1e-2,
               name: str = "tabletop_renderer"):
    """Constructs the renderer.

    Args:
      camera: the camera, light and table.
      edge_softness: width of the soft silhouette's edge, world units
        (a pixel is ~0.04 at the table's middle in a 64 px image).
      depth_softness: depth (world units) over which a nearer surface
        takes over from a farther one.
      gradients: "autodiff" (through the ops above) or
        "finite_differences" (central differences of the whole image in
        each pose coordinate of each object, as the paper did; costs 6N
        renders per backward pass).
      finite_difference_step: the step of the finite differences, world
        units and radians.
      name: the module's name.
    """
    super().__init__(name=name)
    if gradients not in GRADIENTS:
      raise ValueError(f"gradients must be one of {GRADIENTS}, got "
                       f"{gradients!r}.")
    for argument, value in (("edge_softness", edge_softness),
                            ("depth_softness", depth_softness),
                            ("finite_difference_step",
                             finite_difference_step)):
      if value <= 0:
        raise ValueError(f"{argument} must be > 0, got {value}.")
    self.camera = camera
    self.image_size = camera.image_size
    self.window_size = _window_size(camera)
    self._edge_softness = edge_softness
    self._depth_softness = depth_softness
    self._gradients = gradients
    self._step = finite_difference_step
    origin, directions = camera_rays(camera)
    self._origin = tf.constant(origin)
    self._directions = tf.constant(directions)
    light = np.array(camera.light, np.float32)
    self._light = tf.constant(light / np.linalg.norm(light))
    self._albedo = tf.constant(shapes.colours())
    self._shape_parameters = tf.constant(shapes.shape_parameters())
    self._ambient = camera.ambient
    # The table is flat: one colour, lit from the light's elevation.
    table_shade = camera.ambient + (1 - camera.ambient) * max(
        light[2] / np.linalg.norm(light), 0.0)
    self._table_colour = tf.constant(
        np.array(camera.table_colour, np.float32) * table_shade)

  def __call__(self, presence: tf.Tensor, identity: tf.Tensor,
               pose: tf.Tensor) -> tf.Tensor:
    """Renders scenes.

    Args:
      presence: `[B, N]` 1 for the objects that are there, 0 otherwise.
      identity: `[B, N, S]` one-hot shape of each object (`shapes.SHAPES`
        order); a mixture renders a shape of mixed parameters.
      pose: `[B, N, 3]` (x, y) on the table and the rotation about the
        vertical axis (radians).

    Returns:
      `[B, H, W, 3]` images in [0, 1].
    """
    presence = tf.convert_to_tensor(presence, tf.float32)
    identity = tf.convert_to_tensor(identity, tf.float32)
    pose = tf.convert_to_tensor(pose, tf.float32)
    if self._gradients == "finite_differences":
      return self._render_with_finite_differences(presence, identity, pose)
    return self._render(presence, identity, pose)

  def silhouettes(self, identity: tf.Tensor, pose: tf.Tensor) -> tf.Tensor:
    """Soft silhouette of each object alone, unoccluded.

    Args:
      identity: `[M, S]` one-hot shapes.
      pose: `[M, 3]` (x, y, rotation).

    Returns:
      `[M, H, W]` coverage in [0, 1] (> 0.5 where the ray hits).
    """
    objects = self._objects(tf.convert_to_tensor(identity, tf.float32),
                            tf.convert_to_tensor(pose, tf.float32))
    coverage = self._to_image(objects, objects.coverage)
    return tf.reshape(coverage, [-1, self.image_size, self.image_size])

  def _to_image(self, objects: _Objects, value: tf.Tensor,
                fill: float = 0.0) -> tf.Tensor:
    """A `[M, R_w, ...]` value of each object's window laid on the whole
    image, `[M, H * W, ...]`, `fill` outside the window."""
    size, window = self.image_size, self.window_size
    pixels = tf.range(size)[tf.newaxis]
    local = [pixels - objects.top_left[:, axis, tf.newaxis] for axis in (0, 1)]
    shown = [(offset >= 0) & (offset < window) for offset in local]
    local = [tf.clip_by_value(offset, 0, window - 1) for offset in local]
    index = tf.reshape(local[0][:, :, tf.newaxis] * window +
                       local[1][:, tf.newaxis], [-1, size * size])
    shown = tf.reshape(shown[0][:, :, tf.newaxis] & shown[1][:, tf.newaxis],
                       [-1, size * size] + [1] * (value.shape.rank - 2))
    gathered = tf.gather(value, index, batch_dims=1)
    return tf.where(shown, gathered, tf.fill(tf.shape(gathered), fill))

  def _render(self, presence, identity, pose):
    batch_size, max_objects = tf.shape(pose)[0], pose.shape[1]
    objects = self._objects(tf.reshape(identity, [-1, shapes.NUM_SHAPES]),
                            tf.reshape(pose, [-1, 3]))
    size = self.image_size
    rays = size * size
    # Outside its window an object covers nothing, far away.
    depth = tf.reshape(self._to_image(objects, objects.depth, _FAR),
                       [batch_size, max_objects, rays])
    coverage = presence[:, :, tf.newaxis] * tf.reshape(
        self._to_image(objects, objects.coverage),
        [batch_size, max_objects, rays])
    colour = tf.reshape(self._to_image(objects, objects.colour),
                        [batch_size, max_objects, rays, 3])
    # Object j hides object k where it covers the ray and is nearer.
    nearer = tf.sigmoid((depth[:, :, tf.newaxis] - depth[:, tf.newaxis]) /
                        self._depth_softness)  # [B, k, j, R]
    others = 1.0 - tf.eye(max_objects)[tf.newaxis, :, :, tf.newaxis]
    seen = tf.reduce_prod(
        1.0 - coverage[:, tf.newaxis] * nearer * others, axis=2)
    weights = coverage * seen
    table_weight = tf.reduce_prod(1.0 - coverage, axis=1)
    image = (tf.einsum("bnr,bnrc->brc", weights, colour) +
             table_weight[..., tf.newaxis] * self._table_colour)
    return tf.reshape(image, [batch_size, size, size, 3])

  def _window_rays(self, pose):
    """The top-left pixel `[M, 2]` of each object's window, and the window's
    ray directions `[M, R_w, 3]`."""
    size, window = self.image_size, self.window_size
    middle = tf.concat([pose[:, :2], tf.fill([tf.shape(pose)[0], 1],
                                             shapes.MAX_HALF_HEIGHT)], 1)
    pixel = project(tf.stop_gradient(middle), self.camera)
    top_left = tf.clip_by_value(
        tf.cast(tf.round(pixel - window / 2), tf.int32), 0, size - window)
    span = tf.range(window)
    rows = top_left[:, 0, tf.newaxis] + span
    columns = top_left[:, 1, tf.newaxis] + span
    index = tf.reshape(rows[:, :, tf.newaxis] * size +
                       columns[:, tf.newaxis], [-1, window * window])
    return top_left, tf.gather(self._directions, index)

  def _objects(self, identity, pose) -> _Objects:
    """M objects, each alone, along the rays of its window."""
    top_left, world_directions = self._window_rays(pose)
    cos, sin = tf.cos(pose[:, 2]), tf.sin(pose[:, 2])
    centre = tf.concat([pose[:, :2], tf.zeros_like(pose[:, :1])], axis=1)
    # The ray o + t d in the object's frame: rotated by minus its angle.
    origin = _rotate_z((self._origin - centre)[:, tf.newaxis], cos, -sin)
    directions = _rotate_z(world_directions, cos, -sin)
    parameters = tf.matmul(identity, self._shape_parameters)[:, tf.newaxis]
    # The search brackets: where each ray enters and leaves the sphere that
    # holds any shape.
    middle = centre + tf.constant([0.0, 0.0, shapes.MAX_HALF_HEIGHT])
    along = tf.einsum("mk,mrk->mr", middle - self._origin, world_directions)
    low = along - _SEARCH_RADIUS

    def distances(origin, directions, parameters, along):
      """The distance along each ray, and that distance plus a quadratic:
      along a ray that skims a flat face the distance is flat, and the
      quadratic picks one point of least distance, which moves continuously
      with the pose."""
      def distance(t):
        return shapes.signed_distance(
            origin + t[..., tf.newaxis] * directions, parameters)

      def regularised(t):
        return distance(t) + _LEAST_DISTANCE_CURVATURE * tf.square(t - along)

      return distance, regularised

    distance, regularised = distances(origin, directions, parameters, along)
    # The searches see constants: nothing of them is kept for gradients.
    frozen = [tf.stop_gradient(value) for value in (
        origin, directions, parameters, along, low)]
    frozen_distance, frozen_regularised = distances(*frozen[:4])
    nearest = _least_depth(frozen_regularised, frozen[4],
                           frozen[4] + 2 * _SEARCH_RADIUS)
    least = regularised(nearest)
    entry = _newton_step(distance, _entry_depth(frozen_distance, frozen[4],
                                                nearest))
    points = origin + entry[..., tf.newaxis] * directions
    normal = _rotate_z(self._normal(points, parameters), cos, sin)
    diffuse = tf.nn.relu(tf.reduce_sum(normal * self._light, axis=-1))
    # Over the silhouette's edge, from a miss to a hit, the depth slides
    # from that of least distance (moving as the object's middle does) to
    # the entry's, and the shade from an even one to the surface's, so that
    # pixels stay continuous in the pose there too.
    hit_share = tf.clip_by_value(-least / self._edge_softness, 0.0, 1.0)
    missed = along + tf.stop_gradient(nearest - along)
    depth = missed + hit_share * (entry - missed)
    diffuse = _EVEN_DIFFUSE + hit_share * (diffuse - _EVEN_DIFFUSE)
    shade = self._ambient + (1 - self._ambient) * diffuse
    albedo = tf.matmul(identity, self._albedo)[:, tf.newaxis]
    return _Objects(depth, tf.sigmoid(-least / self._edge_softness),
                    albedo * shade[..., tf.newaxis], top_left)

  @staticmethod
  def _normal(points, parameters):
    """Unit normals `[M, R, 3]` of the shapes' distance at `points`."""
    gradient = tf.stack([
        shapes.signed_distance(points + step, parameters) -
        shapes.signed_distance(points - step, parameters)
        for step in tf.unstack(tf.eye(3) * _NORMAL_STEP)], axis=-1)
    return tf.math.l2_normalize(gradient, axis=-1)

  def _render_with_finite_differences(self, presence, identity, pose):
    step = self._step

    @tf.custom_gradient
    def render(presence, identity, pose):
      image = self._render(presence, identity, pose)

      def gradient(upstream):
        max_objects = pose.shape[1]
        offsets = tf.reshape(tf.eye(max_objects * 3) * step,
                             [max_objects * 3, 1, max_objects, 3])
        shifted = tf.concat([pose + offsets, pose - offsets], axis=0)
        count = 2 * max_objects * 3
        images = self._render(
            tf.tile(presence, [count, 1]), tf.tile(identity, [count, 1, 1]),
            tf.reshape(shifted, [-1, max_objects, 3]))
        images = tf.reshape(images, [2, max_objects * 3, -1,
                                     *image.shape[1:]])
        derivative = (images[0] - images[1]) / (2 * step)
        per_coordinate = tf.einsum("kbhwc,bhwc->bk", derivative, upstream)
        # Presence and identity are discrete: no gradient.
        return (tf.zeros_like(presence), tf.zeros_like(identity),
                tf.reshape(per_coordinate, [-1, max_objects, 3]))

      return image, gradient

    return render(presence, identity, pose)
