import numpy as np
import pytest

from air_tf import downstream
from air_tf.scenes import Scenes


def _scenes():
  # Scene 0: empty; 1: a 7; 2: 3 at x=30 then 5 at x=2 (left to right: 5, 3);
  # 3: 1 at x=4 then 8 at x=20 (1, 8); 4: two 6s.
  counts = np.array([0, 1, 2, 2, 2], np.int32)
  labels = np.array([[-1, -1], [7, -1], [3, 5], [1, 8], [6, 6]], np.int32)
  boxes = np.zeros([5, 2, 4], np.float32)
  boxes[2, :, 1] = [30, 2]
  boxes[3, :, 1] = [4, 20]
  boxes[4, :, 1] = [10, 30]
  return Scenes(np.zeros([5, 8, 8], np.uint8), counts, boxes, labels)


def test_sum_adds_the_present_digits():
  targets, used = downstream.task_targets(_scenes(), "sum")
  np.testing.assert_array_equal(targets, [0, 7, 8, 9, 12])
  assert used.all()
  assert downstream.num_classes("sum", 2) == 19


def test_ascending_reads_two_digit_scenes_left_to_right():
  targets, used = downstream.task_targets(_scenes(), "ascending")
  np.testing.assert_array_equal(used, [False, False, True, True, True])
  np.testing.assert_array_equal(targets[used], [0, 1, 0])


def test_tasks_need_labelled_objects():
  scenes = _scenes()
  scenes.labels[1, 0] = -1
  with pytest.raises(ValueError, match="unlabelled objects"):
    downstream.task_targets(scenes, "sum")
  with pytest.raises(ValueError, match="task must be one of"):
    downstream.task_targets(_scenes(), "product")


def test_features_of_absent_steps_are_zero():
  z_pres = np.array([[1.0, 0.0]])
  z_where = np.ones([1, 2, 3])
  z_what = np.full([1, 2, 4], 2.0)
  features = downstream.air_features(z_pres, z_where, z_what)
  assert features.shape == (1, 2 * (1 + 3 + 4))
  np.testing.assert_array_equal(features[0, :8], [1, 1, 1, 1, 2, 2, 2, 2])
  np.testing.assert_array_equal(features[0, 8:], 0)


def test_sum_of_two_is_the_sum_on_two_digit_scenes():
  targets, used = downstream.task_targets(_scenes(), "sum_of_two")
  np.testing.assert_array_equal(used, [False, False, True, True, True])
  np.testing.assert_array_equal(targets[used], [8, 9, 12])
  assert downstream.num_classes("sum_of_two", 2) == 19


@pytest.mark.parametrize("count, held", [(2, 1), (10, 2), (11, 2), (100, 20)])
def test_a_fifth_validates_and_one_is_left_to_train(count, held):
  assert downstream.validation_split(count) == held


def test_one_labelled_example_cannot_be_split():
  with pytest.raises(ValueError, match=">= 2 labelled examples"):
    downstream.validation_split(1)


def _separable(rng, size):
  targets = rng.integers(0, 3, size).astype(np.int32)
  inputs = (rng.normal(size=[size, 5]) * 0.3 +
            np.eye(5)[targets] * 3).astype(np.float32)
  return inputs, targets


def test_classifiers_learn_a_separable_problem():
  rng = np.random.default_rng(0)
  inputs, targets = _separable(rng, 300)
  fit = downstream.fit_and_score(
      lambda: downstream.feature_classifier(3), inputs[:200], targets[:200],
      inputs[200:], targets[200:], seed=0, learning_rates=(1e-3,),
      eval_every=20, patience=3, max_steps=400)
  assert fit.test_accuracy > 0.95 and fit.validation_accuracy > 0.95
  # The CNN: a bright left or right half.
  images = np.zeros([200, 16, 16], np.float32)
  sides = rng.integers(0, 2, 200).astype(np.int32)
  for image, side in zip(images, sides):
    image[:, 8 * side:8 * side + 8] = 1.0
  fit = downstream.fit_and_score(
      lambda: downstream.PixelCNN(2), images[:150], sides[:150], images[150:],
      sides[150:], seed=0, learning_rates=(1e-3,), eval_every=20,
      patience=2, max_steps=200)
  assert fit.test_accuracy > 0.95


def test_early_stopping_stops_once_validation_stops_improving():
  rng = np.random.default_rng(1)
  inputs, targets = _separable(rng, 100)
  fit = downstream.fit_and_score(
      lambda: downstream.feature_classifier(3), inputs[:50], targets[:50],
      inputs[50:], targets[50:], seed=0, learning_rates=(1e-2,),
      eval_every=10, patience=2, max_steps=100000)
  # An easy problem converges long before the cap, and is scored with the
  # weights of its best validation score.
  assert fit.steps < 5000 and fit.steps % 10 == 0
  assert fit.test_accuracy > 0.9


def test_the_learning_rate_best_on_validation_is_kept():
  rng = np.random.default_rng(2)
  inputs, targets = _separable(rng, 200)
  # In 400 steps of 1e-7 an MLP barely moves from chance; 1e-2 learns it.
  fit = downstream.fit_and_score(
      lambda: downstream.feature_classifier(3), inputs[:100], targets[:100],
      inputs[100:], targets[100:], seed=0, learning_rates=(1e-7, 1e-2),
      eval_every=20, patience=3, max_steps=400)
  assert fit.learning_rate == 1e-2 and fit.test_accuracy > 0.9
