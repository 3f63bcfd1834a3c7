import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from air_tf import spatial_transformer
from air_tf.attention import InkAttention
from air_tf.model import AIR
from conftest import variable_named


def _pixels(point, size=50):
  """(x, y) in z_where's units to (column, row) pixel coordinates."""
  return (np.asarray(point) + 1.0) * size / 2.0 - 0.5


def test_it_points_at_the_centre_of_a_lone_digit():
  residual = np.zeros([1, 50, 50], np.float32)
  residual[0, 10:20, 30:36] = 1.0  # Rows 10-19, columns 30-35.
  column, row = _pixels(InkAttention((50, 50))(residual)[0])
  np.testing.assert_allclose([row, column], [14.5, 32.5], atol=1e-3)


def test_an_empty_residual_points_at_the_middle():
  point = InkAttention((50, 40))(tf.zeros([2, 50, 40])).numpy()
  np.testing.assert_allclose(point, np.zeros([2, 2]), atol=1e-6)


def test_a_digit_outweighs_overdrawn_canvas_and_a_stray_stroke():
  residual = np.zeros([1, 50, 50], np.float32)
  residual[0, 38:46, 4:10] = 0.8  # A small digit left to explain.
  residual[0, 5:25, 25:45] = -1.0  # Canvas drawn where there is no ink.
  residual[0, 30, 20:30] = 1.0  # A one-pixel stroke a drawing left.
  column, row = _pixels(InkAttention((50, 50))(residual)[0])
  assert abs(row - 41.5) < 0.5 and abs(column - 6.5) < 0.5


def test_its_point_is_where_a_glimpse_finds_the_ink():
  residual = np.zeros([1, 50, 50], np.float32)
  residual[0, 30:40, 12:18] = 1.0
  point = InkAttention((50, 50))(residual)
  where = tf.concat([[[50.0 / 12]], point], axis=1)  # A 12 px window.
  glimpse = spatial_transformer.canvas_to_window(residual, where, 12)
  np.testing.assert_allclose(glimpse.numpy().sum(), residual.sum(),
                             rtol=1e-5)


def test_its_sharpness_learns():
  attention = InkAttention((16, 16))
  residual = tf.random.stateless_uniform([3, 16, 16], [1, 2])
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(tf.square(attention(residual)))
  assert attention.trainable_variables == (attention.sharpness,)
  assert np.isfinite(tape.gradient(loss, attention.sharpness).numpy())


def test_inference_with_it_places_a_fresh_network_on_the_ink(tiny_config):
  network = AIR(dataclasses.replace(tiny_config, dair=True,
                                    ink_attention=True)).inference
  images = np.zeros([1, 16, 16], np.float32)
  images[0, 9:14, 2:6] = 1.0
  network(images, sample=False)  # Creates the variables.
  # With the head's position outputs zeroed only the attention places it.
  weights = variable_named(network, "pres_where_head/w")
  weights.assign(tf.zeros_like(weights))
  where = network(images, sample=False).z_where_loc[0, 0, 1:].numpy()
  column, row = _pixels(np.arctanh(where / tiny_config.position_range)
                        * tiny_config.position_range, size=16)
  np.testing.assert_allclose([row, column], [11.0, 3.5], atol=0.05)


def test_it_needs_dair(tiny_config):
  with pytest.raises(ValueError, match="ink_attention .* dair=True"):
    AIR(dataclasses.replace(tiny_config, ink_attention=True, dair=False))
