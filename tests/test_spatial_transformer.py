import numpy as np
import pytest
import tensorflow as tf

from air_tf import spatial_transformer as st

CANVAS, WINDOW = 40, 10


def _aligned_z_where(top: int, left: int) -> np.ndarray:
  """z_where whose window covers canvas pixels [top, top + WINDOW) exactly."""
  scale = CANVAS / WINDOW
  centre = lambda edge: 2.0 * edge / CANVAS - 1.0 + 1.0 / scale
  return np.array([scale, centre(left), centre(top)], np.float32)


def test_crop_after_render_gives_back_the_object():
  rng = np.random.default_rng(0)
  objects = rng.uniform(size=[3, WINDOW, WINDOW]).astype(np.float32)
  z_where = np.stack([_aligned_z_where(3, 7), _aligned_z_where(20, 0),
                      _aligned_z_where(30, 30)])
  canvas = st.window_to_canvas(objects, z_where, (CANVAS, CANVAS))
  np.testing.assert_allclose(
      st.canvas_to_window(canvas, z_where, WINDOW), objects, atol=1e-5)
  # Nothing lands outside the window.
  assert np.isclose(canvas.numpy().sum(), objects.sum(), rtol=1e-5)
  np.testing.assert_allclose(canvas[0, 3:13, 7:17], objects[0], atol=1e-5)


def test_boxes_are_the_window_edges():
  boxes = st.z_where_to_boxes(_aligned_z_where(3, 7)[np.newaxis],
                              (CANVAS, CANVAS))
  np.testing.assert_allclose(boxes, [[3, 7, 13, 17]], atol=1e-4)


def test_render_after_crop_of_a_smooth_canvas_is_close():
  # Off the pixel grid the two maps are inverses up to interpolation.
  rows, columns = np.mgrid[0:CANVAS, 0:CANVAS] / CANVAS
  canvas = np.sin(3 * rows) * np.cos(2 * columns)
  canvas = canvas[np.newaxis].astype(np.float32)
  z_where = np.array([[1.3, 0.05, -0.1]], np.float32)
  window = st.canvas_to_window(canvas, z_where, 32)
  back = st.window_to_canvas(window, z_where, (CANVAS, CANVAS)).numpy()
  inside = back[0, 10:30, 10:30]
  np.testing.assert_allclose(inside, canvas[0, 10:30, 10:30], atol=0.02)


def test_crop_of_channels_is_the_crop_of_each_channel():
  rng = np.random.default_rng(3)
  canvas = rng.uniform(size=[2, CANVAS, CANVAS, 3]).astype(np.float32)
  z_where = np.array([[1.7, 0.2, -0.3], [2.5, -0.4, 0.1]], np.float32)
  glimpses = st.canvas_to_window(canvas, z_where, 12).numpy()
  assert glimpses.shape == (2, 12, 12, 3)
  for channel in range(3):
    np.testing.assert_allclose(
        glimpses[..., channel],
        st.canvas_to_window(canvas[..., channel], z_where, 12), atol=1e-5)


@pytest.mark.parametrize("object_size", [20, 5])  # Shrunk 2x, enlarged 2x.
def test_area_rendering_keeps_the_ink_wherever_the_window_lands(object_size):
  # A window of 10 canvas pixels, at sub-pixel offsets: an object's ink
  # (its sum times a pixel's area) lands on the canvas whole.
  rng = np.random.default_rng(4)
  objects = np.zeros([6, object_size, object_size], np.float32)
  objects[:, :, object_size // 2] = 1.0  # A one-pixel line.
  objects += rng.uniform(size=objects.shape).astype(np.float32)
  z_where = np.stack([_aligned_z_where(12, 15) + [0.0, dx, dy]
                      for dx, dy in rng.uniform(-0.05, 0.05, [6, 2])])
  area = st.window_to_canvas(objects, z_where.astype(np.float32),
                             (CANVAS, CANVAS), area=True).numpy()
  pixel_area = (WINDOW / object_size) ** 2
  np.testing.assert_allclose(area.sum(axis=(1, 2)),
                             objects.sum(axis=(1, 2)) * pixel_area, rtol=1e-4)
  if object_size > WINDOW:
    # Point sampling reads a shrunk object's pixels unevenly: its ink
    # changes with the window's sub-pixel position.
    point = st.window_to_canvas(objects, z_where.astype(np.float32),
                                (CANVAS, CANVAS)).numpy()
    assert np.ptp(point.sum(axis=(1, 2)) /
                  objects.sum(axis=(1, 2))) > 10 * np.ptp(
                      area.sum(axis=(1, 2)) / objects.sum(axis=(1, 2)))


@pytest.mark.parametrize("function", ["crop", "render", "render_area"])
def test_gradients_match_finite_differences(function):
  rng = np.random.default_rng(1)
  # Kept off the kernels' corners (a pixel's footprint ending where the
  # triangle does), where the sampled canvas has a kink and finite
  # differences err by O(delta).
  z_where = tf.constant([[1.7, 0.13, -0.21], [2.3, -0.31, 0.19]], tf.float64)
  if function == "crop":
    source = tf.constant(rng.uniform(size=[2, 12, 12]), tf.float64)
    apply = lambda image, where: st.canvas_to_window(
        tf.cast(image, tf.float32), tf.cast(where, tf.float32), 7)
  else:
    source = tf.constant(rng.uniform(size=[2, 7, 7]), tf.float64)
    apply = lambda image, where: st.window_to_canvas(
        tf.cast(image, tf.float32), tf.cast(where, tf.float32), (12, 12),
        area=function == "render_area")
  analytic, numeric = tf.test.compute_gradient(
      lambda image, where: tf.cast(apply(image, where), tf.float64),
      [source, z_where], delta=1e-3)
  for a, n in zip(analytic, numeric):
    np.testing.assert_allclose(a, n, atol=2e-3, rtol=2e-2)
  assert np.abs(analytic[1]).max() > 0.1  # z_where really gets a gradient.


def test_scale_near_zero_stays_finite():
  canvas = tf.ones([3, CANVAS, CANVAS])
  z_where = tf.constant([[0.0, 0.0, 0.0], [-1.0, 0.5, 0.5],
                         [1e-9, 0.0, 0.0]])
  assert np.isfinite(st.canvas_to_window(canvas, z_where, WINDOW)).all()
  window = tf.ones([3, WINDOW, WINDOW])
  assert np.isfinite(st.window_to_canvas(window, z_where,
                                         (CANVAS, CANVAS))).all()


def test_windows_of_boxes_are_centred_on_them_and_as_large_as_asked():
  boxes = np.array([[3.0, 7.0, 13.0, 17.0],  # 10 x 10
                    [20.0, 0.0, 26.0, 12.0]], np.float32)  # 6 x 12
  np.testing.assert_allclose(
      st.z_where_to_boxes(st.z_where_of_boxes(boxes[:1], (CANVAS, CANVAS)),
                          (CANVAS, CANVAS)), boxes[:1], atol=1e-5)
  windows = st.z_where_to_boxes(
      st.z_where_of_boxes(boxes, (CANVAS, CANVAS), enlarge=1.5),
      (CANVAS, CANVAS)).numpy()
  np.testing.assert_allclose(windows[:, 2:] - windows[:, :2],
                             [[15.0, 15.0], [18.0, 18.0]], atol=1e-4)
  np.testing.assert_allclose(windows[:, :2] + windows[:, 2:],
                             boxes[:, :2] + boxes[:, 2:], atol=1e-4)


def _blob(size: int, row: float, column: float, width: float) -> np.ndarray:
  """`[size, size]` float32: a Gaussian blob at pixel (row, column)."""
  rows, columns = np.mgrid[:size, :size] + 0.5
  return np.exp(-((rows - row) ** 2 + (columns - column) ** 2) /
                (2.0 * width ** 2)).astype(np.float32)


def test_zoom_magnifies_about_its_centre_and_undoes_itself():
  images = np.stack([_blob(40, 14.0, 26.0, 3.0), _blob(40, 20.0, 20.0, 3.0)])
  # (x, y) of the first blob's centre, and of the second's (the canvas's).
  centres = np.array([[0.3, -0.3], [0.0, 0.0]], np.float32)
  factor = np.array([1.6, 1.0], np.float32)
  zoomed = st.zoom(images, factor, centres).numpy()
  np.testing.assert_allclose(zoomed[1], images[1], atol=1e-5)
  # The first blob now sits at the centre, 1.6 times as wide.
  np.testing.assert_allclose(zoomed[0], _blob(40, 20.0, 20.0, 4.8),
                             atol=0.03)
  back = st.zoom(zoomed, 1.0 / factor, -factor[:, None] * centres).numpy()
  np.testing.assert_allclose(back, images, atol=0.03)


def test_zoom_out_by_area_keeps_the_ink_in_proportion():
  images = np.random.default_rng(1).uniform(size=[2, 30, 30]).astype(
      np.float32)
  factor = np.array([0.85, 0.5], np.float32)
  zoomed = st.zoom(images, factor, np.zeros([2, 2], np.float32),
                   area=True).numpy()
  np.testing.assert_allclose(zoomed.sum(axis=(1, 2)),
                             factor ** 2 * images.sum(axis=(1, 2)), rtol=1e-4)
  # Zero where the view leaves the image.
  assert (zoomed[1, :7] == 0).all() and (zoomed[1, :, -7:] == 0).all()


def test_mask_boxes_are_the_edges_of_the_mask():
  mask = np.zeros([3, 6, 8], bool)
  mask[0, 1:4, 2:7] = True
  mask[1, 5, 0] = True
  boxes = st.mask_boxes(tf.constant(mask)).numpy()
  np.testing.assert_array_equal(boxes, [[1, 2, 4, 7], [5, 0, 6, 1],
                                        [0, 0, 0, 0]])


def test_window_centre_of_mass_weighs_the_positive_pixels_inside():
  rng = np.random.default_rng(3)
  images = rng.uniform(-1.0, 1.0, [2, CANVAS, CANVAS]).astype(np.float32)
  z_where = np.stack([_aligned_z_where(3, 7), _aligned_z_where(20, 0)])
  centre, mass = st.window_centre_of_mass(images, z_where)
  coordinates = (2.0 * np.arange(CANVAS) + 1.0) / CANVAS - 1.0
  for image, (top, left), got, got_mass in zip(
      images, [(3, 7), (20, 0)], centre.numpy(), mass.numpy()):
    weights = np.zeros_like(image)
    inside = (slice(top, top + WINDOW), slice(left, left + WINDOW))
    weights[inside] = np.maximum(image[inside], 0.0)
    np.testing.assert_allclose(got_mass, weights.sum(), rtol=1e-5)
    np.testing.assert_allclose(
        got, [(weights.sum(0) * coordinates).sum() / weights.sum(),
              (weights.sum(1) * coordinates).sum() / weights.sum()],
        rtol=1e-5, atol=1e-6)


def test_window_centre_of_mass_of_an_inkless_window_is_zero():
  images = np.zeros([1, CANVAS, CANVAS], np.float32)
  images[0, 30:, 30:] = 1.0  # Outside the window.
  images[0, 5, 9] = -1.0  # Inside, but not ink.
  centre, mass = st.window_centre_of_mass(
      images, _aligned_z_where(3, 7)[np.newaxis])
  np.testing.assert_array_equal(centre, [[0.0, 0.0]])
  np.testing.assert_array_equal(mass, [0.0])
