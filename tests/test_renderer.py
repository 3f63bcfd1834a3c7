"""The renderer: objects placed and summed, the pixel likelihood, and the
interface a renderer that learns nothing implements."""

import numpy as np
import pytest
import tensorflow as tf

from air_tf import spatial_transformer
from air_tf.inference import InferenceNetwork
from air_tf.renderer import DecoderRenderer, Renderer, ink_contact


class SquareRenderer(Renderer):
  """A fixed renderer: every object is a filled square of brightness
  sigmoid(z_what[0]), placed at z_where. No variables."""

  def __init__(self, canvas_size, window_size=4):
    super().__init__(canvas_size, "normal", 0.3, name="squares")
    self._window_size = window_size

  def render_object(self, z_where, z_what):
    brightness = tf.sigmoid(z_what[:, 0])[:, tf.newaxis, tf.newaxis]
    windows = brightness * tf.ones([1, self._window_size, self._window_size])
    return spatial_transformer.window_to_canvas(windows, z_where,
                                                self.canvas_size)


def _latents():
  z_where = tf.constant([[[2.0, -0.5, -0.5], [2.0, 0.5, 0.5]]])
  z_what = tf.constant([[[5.0, 0.0], [5.0, 0.0]]])
  return z_where, z_what


def test_ink_contact_is_ink_on_or_beside_the_objects_before():
  objects = np.zeros([1, 4, 7, 7], np.float32)
  objects[0, 0, 1, 1] = 1.0
  objects[0, 1, 3, 3] = 1.0  # One empty pixel from the first, diagonally.
  objects[0, 2, 2, 2] = 0.5  # Touches both, diagonally.
  objects[0, 3, 1:4, 1] = 0.25  # On the first, beside the third.
  contact = lambda z_pres: ink_contact(tf.constant([z_pres]),
                                       tf.constant(objects)).numpy()[0]
  np.testing.assert_allclose(contact([1.0, 1.0, 1.0, 1.0]),
                             [0.0, 0.0, 0.5, 0.625], rtol=1e-6)
  # Absent objects neither pay nor are paid against.
  np.testing.assert_allclose(contact([1.0, 1.0, 0.0, 1.0]),
                             [0.0, 0.0, 0.0, 0.5], rtol=1e-6)
  np.testing.assert_allclose(contact([0.0, 1.0, 1.0, 0.0]),
                             [0.0, 0.0, 0.5, 0.0], rtol=1e-6)


def test_the_canvas_is_the_sum_of_the_present_objects():
  renderer = DecoderRenderer((16, 16), 6, (8,), 0.0, "normal", 0.3)
  z_where, z_what = _latents()
  both = renderer(tf.constant([[1.0, 1.0]]), z_where, z_what)
  first = renderer(tf.constant([[1.0, 0.0]]), z_where, z_what)
  second = renderer(tf.constant([[0.0, 1.0]]), z_where, z_what)
  np.testing.assert_allclose(both, first + second, atol=1e-6)
  np.testing.assert_allclose(
      first[0], renderer.render_object(z_where[:, 0], z_what[:, 0])[0],
      atol=1e-6)
  assert np.all(renderer(tf.zeros([1, 2]), z_where, z_what).numpy() == 0)


def test_the_canvas_composes_every_step_s_object():
  renderer = DecoderRenderer((16, 16), 6, (8,), 0.0, "normal", 0.3)
  z_where, z_what = _latents()
  objects = renderer.objects(z_where, z_what)
  assert objects.shape == (1, 2, 16, 16)
  for presence in ([0.0, 0.0], [1.0, 0.0], [1.0, 1.0]):
    z_pres = tf.constant([presence])
    np.testing.assert_allclose(renderer.compose(z_pres, objects),
                               renderer(z_pres, z_where, z_what), atol=1e-6)
  np.testing.assert_allclose(
      objects[:, 1], renderer.render_object(z_where[:, 1], z_what[:, 1]),
      atol=1e-6)


def test_objects_start_nearly_empty_with_a_negative_output_bias():
  renderer = DecoderRenderer((16, 16), 6, (8,), -6.0, "normal", 0.3)
  decoded = renderer.decode(tf.zeros([3, 2])).numpy()
  assert decoded.shape == (3, 6, 6) and decoded.max() < 0.01


def test_a_coarser_object_image_is_stretched_over_the_same_window():
  # A decoder with zero weights draws a uniform object; how many pixels it
  # has changes how finely it is drawn, not where.
  z_where = tf.constant([[2.0, 0.0, 0.0]])
  for object_size in (3, 6, 12):
    renderer = DecoderRenderer((24, 24), object_size, (8,), 0.0, "normal",
                               0.3)
    assert renderer.decode(tf.zeros([1, 2])).shape == (1, object_size,
                                                       object_size)
    for variable in renderer.trainable_variables:
      variable.assign(tf.zeros_like(variable))
    canvas = renderer.render_object(z_where, tf.zeros([1, 2]))[0].numpy()
    # The window is the canvas's middle half, 6:18; inside its border
    # pixels every size draws sigmoid(0), and nothing beyond half an
    # object pixel (2 canvas pixels at size 3) outside it.
    np.testing.assert_allclose(canvas[8:16, 8:16], 0.5, atol=1e-6)
    assert np.all(canvas[:4] == 0) and np.all(canvas[:, 20:] == 0)


@pytest.mark.parametrize("likelihood", ["normal", "bernoulli"])
def test_the_likelihood_scores_whole_images(likelihood):
  renderer = DecoderRenderer((16, 16), 6, (8,), 0.0, likelihood, 0.3)
  canvas = tf.constant(np.linspace(0, 1.5, 2 * 256).reshape(2, 16, 16),
                       tf.float32)  # Overlapping objects can exceed 1.
  distribution = renderer.likelihood(canvas)
  assert distribution.batch_shape == [2]
  assert distribution.event_shape == [16, 16]
  log_prob = distribution.log_prob(tf.zeros([2, 16, 16])).numpy()
  assert log_prob.shape == (2,) and np.isfinite(log_prob).all()


def test_a_normal_likelihood_peaks_at_the_canvas():
  renderer = DecoderRenderer((4, 4), 2, (8,), 0.0, "normal", 0.3)
  canvas = tf.fill([1, 4, 4], 0.5)
  at_canvas = renderer.likelihood(canvas).log_prob(canvas)
  elsewhere = renderer.likelihood(canvas).log_prob(canvas + 0.1)
  np.testing.assert_allclose(at_canvas - elsewhere, 16 * 0.01 / (2 * 0.09),
                             rtol=1e-5)


def _normal_log_prob(image, canvas, std):
  return np.sum(-0.5 * ((image - canvas) / std) ** 2 - np.log(std) -
                0.5 * np.log(2 * np.pi))


def test_a_background_std_scores_each_pixel_by_its_own_normal():
  renderer = DecoderRenderer((2, 3), 2, (8,), 0.0, "normal", 0.3,
                             likelihood_background_std=0.1)
  canvas = np.array([[[0.0, 0.25, 0.5], [1.0, 1.5, -0.2]]], np.float32)
  image = np.array([[[0.4, 0.0, 1.0], [0.9, 1.0, 0.0]]], np.float32)
  std = 0.1 + 0.2 * np.clip(canvas, 0, 1)  # 0.1 on empty canvas, 0.3 on ink.
  np.testing.assert_allclose(
      renderer.likelihood(tf.constant(canvas)).log_prob(image),
      [_normal_log_prob(image, canvas, std)], rtol=1e-5)
  # Equal stds are the plain normal likelihood.
  same = DecoderRenderer((2, 3), 2, (8,), 0.0, "normal", 0.3,
                         likelihood_background_std=0.3)
  plain = DecoderRenderer((2, 3), 2, (8,), 0.0, "normal", 0.3)
  canvas = tf.constant(canvas)
  np.testing.assert_allclose(same.likelihood(canvas).log_prob(image),
                             plain.likelihood(canvas).log_prob(image),
                             rtol=1e-6)


def test_a_learnt_std_is_the_sigmoid_of_a_convolution_of_the_canvas():
  renderer = DecoderRenderer((3, 4), 2, (8,), 0.0, "normal", 0.3,
                             likelihood_background_std=0.1,
                             likelihood_std_kernel=3)
  rng = np.random.default_rng(0)
  canvas = rng.uniform(-0.2, 1.2, [2, 3, 4]).astype(np.float32)
  image = rng.uniform(0, 1, [2, 3, 4]).astype(np.float32)
  fresh = renderer.likelihood(tf.constant(canvas)).log_prob(image)
  # Fresh, it is (almost) the std interpolated in each pixel's own canvas.
  std = 0.1 + 0.2 / (1 + np.exp(3.0 - 6.0 * np.clip(canvas, 0, 1)))
  np.testing.assert_allclose(
      fresh, [_normal_log_prob(image[b], canvas[b], std[b]) for b in range(2)],
      rtol=1e-5)
  kernel = rng.normal(size=[3, 3]).astype(np.float32)
  bias = -0.5
  renderer._std_convolution.w.assign(kernel[:, :, np.newaxis, np.newaxis])
  renderer._std_convolution.b.assign([bias])
  ink = np.pad(np.clip(canvas, 0, 1), [(0, 0), (1, 1), (1, 1)])
  logits = bias + sum(kernel[dy, dx] * ink[:, dy:dy + 3, dx:dx + 4]
                      for dy in range(3) for dx in range(3))
  std = 0.1 + 0.2 / (1 + np.exp(-logits))
  np.testing.assert_allclose(
      renderer.likelihood(tf.constant(canvas)).log_prob(image),
      [_normal_log_prob(image[b], canvas[b], std[b]) for b in range(2)],
      rtol=1e-5)


def test_a_learnt_std_learns_from_the_likelihood():
  renderer = DecoderRenderer((4, 4), 2, (8,), 0.0, "normal", 0.3,
                             likelihood_background_std=0.1,
                             likelihood_std_kernel=3)
  canvas = tf.zeros([1, 4, 4])
  with tf.GradientTape() as tape:
    # An image as empty as the canvas: the data say the noise is small.
    log_prob = renderer.likelihood(canvas).log_prob(tf.zeros([1, 4, 4]))
  (bias_gradient,) = tape.gradient(log_prob, [renderer._std_convolution.b])
  assert bias_gradient.numpy()[0] < 0


def test_a_learnt_std_needs_its_lower_bound():
  with pytest.raises(ValueError, match="likelihood_background_std"):
    DecoderRenderer((4, 4), 2, (8,), 0.0, "normal", 0.3,
                    likelihood_std_kernel=3)


def test_an_unknown_likelihood_says_what_is_known():
  with pytest.raises(ValueError, match="likelihood must be one of"):
    DecoderRenderer((16, 16), 6, (8,), 0.0, "poisson", 0.3)


def test_a_fixed_renderer_implements_the_interface():
  renderer = SquareRenderer((16, 16))
  z_where, z_what = _latents()
  canvas = renderer(tf.constant([[1.0, 1.0]]), z_where, z_what).numpy()
  # Two squares of brightness sigmoid(5), in opposite quarters.
  np.testing.assert_allclose(canvas.max(), 1 / (1 + np.exp(-5)), rtol=1e-5)
  assert canvas[0, :8, :8].sum() > 0 and canvas[0, 8:, 8:].sum() > 0
  # DAIR inference reads the residual through any renderer.
  inference = InferenceNetwork(
      renderer, max_steps=2, z_what_size=2, window_size=4, lstm_size=8,
      encoder_hidden=(8,), image_encoder_hidden=(8,), dair=True,
      z_where_prior_loc=(2.0, 0.0, 0.0), z_where_init_std=(0.1, 0.2, 0.2),
      scale_range=1.0, position_range=1.0, z_pres_floor=0.0,
      count_threshold=0.5)
  posterior = inference(tf.constant(canvas), seed=tf.constant([1, 2]))
  assert posterior.z_what.shape == (1, 2, 2)
  assert np.isfinite(posterior.z_where.numpy()).all()
