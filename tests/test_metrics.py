import numpy as np
import pytest
import tensorflow as tf

from air_tf import metrics
from air_tf.model import AIR


def test_confusion_matrix_counts_each_pair():
  matrix = metrics.confusion_matrix(np.array([0, 1, 2, 2, 1]),
                                    np.array([0, 1, 1, 2, 3]), max_count=3)
  expected = np.zeros([4, 4], int)
  for true, inferred in [(0, 0), (1, 1), (2, 1), (2, 2), (1, 3)]:
    expected[true, inferred] += 1
  np.testing.assert_array_equal(matrix, expected)


def test_evaluator_figures_are_consistent(tiny_config):
  model = AIR(tiny_config)
  images = tf.random.stateless_uniform([12, 16, 16], [3, 4]).numpy()
  evaluator = metrics.Evaluator(model, batch_size=40)
  inferred = evaluator.infer(images, 0.3)["count"]
  result = evaluator(images, inferred, 0.3, iw_samples=20)
  assert result.count_accuracy == 1.0  # Scored against its own counts.
  assert result.confusion.sum() == 12
  np.testing.assert_allclose(result.mean_count, inferred.mean())
  # The K-sample bound is at least the single-sample one on average.
  single = evaluator(images, inferred, 0.3, iw_samples=1)
  assert result.iw_bound >= single.iw_bound - 1.0
  assert np.isfinite(result.elbo)
  wrong = evaluator(images, (inferred + 1) % 4, 0.3)
  assert wrong.count_accuracy == 0.0
  # Counting alone gives the same figures without the sampled bounds.
  accuracy, confusion = evaluator.count(images, (inferred + 1) % 4, 0.3)
  assert accuracy == 0.0
  np.testing.assert_array_equal(confusion, wrong.confusion)
  by_elbo = evaluator.count_by_elbo(images, 0.3)
  assert by_elbo.shape == (12,) and set(by_elbo) <= {0, 1, 2, 3}
  accuracy, confusion = evaluator.count(images, by_elbo, 0.3, by_elbo=True)
  assert accuracy == 1.0 and confusion.trace() == 12


def test_the_last_objects_evidence_is_the_difference_of_count_elbos(
    tiny_config):
  model = AIR(tiny_config)
  images = tf.random.stateless_uniform([5, 16, 16], [5, 6]).numpy()
  counts = np.array([0, 1, 2, 3, 4])  # 4: more than the three steps.
  evaluator = metrics.Evaluator(model, batch_size=3)
  last = evaluator.last_object(images, counts, 0.3)
  elbos = model.count_elbos(tf.constant(images), 0.3).numpy()
  defined = [1, 2, 3]
  np.testing.assert_allclose(
      last["evidence"][defined],
      elbos[defined, counts[defined]] - elbos[defined, counts[defined] - 1],
      rtol=1e-4, atol=1e-3)
  assert np.isnan(last["evidence"][[0, 4]]).all()
  assert np.isnan(last["gain"][[0, 4]]).all()
  # The pictures' inference has as many steps present as objects (at most
  # all three).
  np.testing.assert_array_equal(last["z_pres"].sum(axis=1), [1, 1, 2, 3, 3])
  # Its gain is what the last drawn object adds to the likelihood.
  two = model(tf.constant(images[2:3]), 0.3, sample=False,
              presence=tf.constant([[1.0, 1.0, 0.0]]))
  one = model(tf.constant(images[2:3]), 0.3, sample=False,
              presence=tf.constant([[1.0, 0.0, 0.0]]))
  np.testing.assert_allclose(
      last["gain"][2], (two.log_likelihood - one.log_likelihood).numpy()[0],
      rtol=1e-4, atol=1e-3)
  np.testing.assert_allclose(
      last["cost"][2], (two.kl_where + two.kl_what).numpy()[0, 1], rtol=1e-5)


def test_first_reaching_returns_the_first_record_at_or_above():
  records = [{"step": 1, "acc": 0.5}, {"step": 2, "acc": 0.98},
             {"step": 3, "acc": 0.97}, {"step": 4, "acc": 0.99}]
  assert metrics.first_reaching(records, "acc", 0.98)["step"] == 2
  assert metrics.first_reaching(records, "acc", 0.995) is None


def test_training_minutes_leave_out_the_time_between_launches():
  # Launched at 0; records at 60 and 120 s; killed; relaunched at 1000 s;
  # records at 1030 and 1090 s.
  minutes = metrics.training_minutes([60, 120, 1030, 1090], [0, 1000])
  np.testing.assert_allclose(minutes, [1.0, 2.0, 2.5, 3.5])
  # A launch with no record of its own adds nothing.
  minutes = metrics.training_minutes([60, 1030], [0, 500, 1000])
  np.testing.assert_allclose(minutes, [1.0, 1.5])
  with pytest.raises(ValueError, match="first launch"):
    metrics.training_minutes([60], [100])


def test_the_box_the_windows_cover_least_is_the_missed_one():
  windows = np.array([[[0, 0, 10, 10], [20, 20, 30, 30]]], np.float32)
  boxes = np.array([[[2, 2, 8, 8], [12, 0, 18, 8], [21, 21, 29, 29]]],
                   np.float32)
  for present, count, missed in (([True, True], 3, 1),
                                 ([True, False], 3, 1),
                                 ([True, False], 1, 0),
                                 ([False, False], 2, 0)):
    np.testing.assert_array_equal(
        metrics._least_covered_boxes(windows, np.array([present]), boxes,
                                     np.array([count])),
        boxes[:, missed])
  # A box a window covers only in part beats one it holds whole.
  np.testing.assert_array_equal(
      metrics._least_covered_boxes(windows, np.array([[True, True]]),
                                   boxes[:, [0, 2]] + [[[0, 0, 0, 0],
                                                       [5, 5, 5, 5]]],
                                   np.array([2])), [[26, 26, 34, 34]])


def test_the_truth_preference_is_defined_where_a_count_has_a_last_object(
    tiny_config):
  model = AIR(tiny_config)
  images = tf.random.stateless_uniform([5, 16, 16], [5, 6]).numpy()
  counts = np.array([0, 1, 2, 3, 4])  # 4: more than the three steps.
  boxes = np.tile(np.array([[2, 2, 8, 8], [8, 8, 14, 14], [1, 9, 7, 15],
                            [9, 1, 15, 7]], np.float32), [5, 1, 1])
  preference = metrics.Evaluator(model, batch_size=3).truth_preference(
      images, counts, boxes, 0.3, refinement_steps=3)
  for margins in preference.values():
    assert np.isnan(margins[[0, 4]]).all()
    assert np.isfinite(margins[1:4]).all()
