import os

import numpy as np
import tensorflow as tf

from air_tf import visualisation


def test_boxes_are_drawn_in_their_step_colour():
  images = np.zeros([1, 10, 10], np.float32)
  boxes = np.array([[[2, 3, 6, 8], [0, 0, 10, 10]]], np.float32)
  drawn = visualisation.draw_boxes(images, boxes, np.array([[True, False]]),
                                   upscale=1)
  red = visualisation.STEP_COLOURS[0]
  np.testing.assert_array_equal(drawn[0, 2, 3], red)
  np.testing.assert_array_equal(drawn[0, 5, 7], red)
  np.testing.assert_array_equal(drawn[0, 4, 5], [0, 0, 0])  # Inside.
  np.testing.assert_array_equal(drawn[0, 0, 0], [0, 0, 0])  # Absent box.


def test_colour_images_keep_their_colours():
  images = np.zeros([1, 4, 4, 3], np.float32)
  images[0, 1, 2] = [1.0, 0.5, 0.0]
  drawn = visualisation.draw_boxes(images, np.zeros([1, 1, 4], np.float32),
                                   np.array([[False]]), upscale=2)
  assert drawn.shape == (1, 8, 8, 3)
  np.testing.assert_array_equal(drawn[0, 2:4, 4:6], [[[255, 127, 0]] * 2] * 2)
  np.testing.assert_array_equal(drawn[0, 0, 0], [0, 0, 0])


def test_grid_png_round_trip(tmp_path):
  images = np.random.default_rng(0).uniform(size=[5, 8, 8])
  boxes = np.zeros([5, 3, 4], np.float32)
  grid = visualisation.comparison_grid(images, images, boxes,
                                       np.zeros([5, 3], bool), columns=2,
                                       upscale=1)
  assert grid.shape == (3 * 12, 2 * 20, 3)
  path = str(tmp_path / "sub" / "grid.png")
  visualisation.write_png(path, grid)
  np.testing.assert_array_equal(tf.io.decode_png(tf.io.read_file(path)),
                                grid)


def test_curves_plot_is_a_png_of_the_figure_size(tmp_path):
  curves = {"seed 0": [{"step": 1000, "minutes": 1.0, "count_accuracy": 0.7},
                       {"step": 2000, "minutes": 2.0, "count_accuracy": 0.99}],
            "seed 1": [{"step": 1000, "minutes": 1.2, "count_accuracy": 0.8}]}
  path = str(tmp_path / "plots" / "curves.png")
  visualisation.plot_curves(curves, path, threshold=0.98)
  picture = tf.io.decode_png(tf.io.read_file(path)).numpy()
  assert picture.shape[:2] == (400, 1100)
  assert len(np.unique(picture.reshape(-1, picture.shape[-1]), axis=0)) > 10
  assert not any(name.endswith(".partial")
                 for name in os.listdir(tmp_path / "plots"))


def test_label_efficiency_plot_has_one_panel_per_task(tmp_path):
  results = {"sum": {"AIR": [0.2, 0.9], "CNN": [0.1, 0.5]},
             "ascending": {"AIR": [0.6, 0.95], "CNN": [0.5, 0.7]}}
  path = str(tmp_path / "downstream.png")
  visualisation.plot_label_efficiency(
      results, {"sum": [10, 1000], "ascending": [10, 300]}, path)
  picture = tf.io.decode_png(tf.io.read_file(path)).numpy()
  assert picture.shape[:2] == (400, 1100)


def test_accuracy_bars_widen_with_the_number_of_tests(tmp_path):
  path = str(tmp_path / "bars.png")
  visualisation.plot_accuracy_bars(
      {"extrapolation": {"AIR": 0.3, "DAIR": 0.8},
       "interpolation": {"AIR": 0.6}}, path)  # A missing bar is allowed.
  picture = tf.io.decode_png(tf.io.read_file(path)).numpy()
  assert picture.shape[:2] == (400, 660)
  assert len(np.unique(picture.reshape(-1, picture.shape[-1]), axis=0)) > 10


def test_scalars_plot_has_a_panel_per_tag(tmp_path):
  runs = {"failed": {"train/q": {100: 0.5, 200: 0.01}, "eval/acc": {1: 0.7}},
          "good": {"train/q": {100: 0.5, 200: 0.6}}}
  path = str(tmp_path / "compare.png")
  visualisation.plot_scalars(runs, ["train/q", "eval/acc"], path, columns=2)
  picture = tf.io.decode_png(tf.io.read_file(path)).numpy()
  assert picture.shape[:2] == (320, 840)
  assert len(np.unique(picture.reshape(-1, picture.shape[-1]), axis=0)) > 10


def test_confusion_image_shades_each_row_by_its_share():
  confusion = np.array([[90, 10, 0], [0, 50, 50], [0, 0, 7]])
  picture = visualisation.confusion_image(confusion)
  assert picture.dtype == np.uint8 and picture.ndim == 3
  assert picture.shape[2] == 3
  # Darker cells exist (the 90% and 100% shares) besides the white ones.
  assert picture.min() < 100 and picture.max() == 255
