"""The count classifier: one probability per count, for grey and colour
images; a configuration that says what is wrong; the agreement table."""

import numpy as np
import pytest
import tensorflow as tf

from air_tf import count_classifier
from air_tf.count_classifier import CountClassifier, CountClassifierConfig

_SMALL = CountClassifierConfig(max_count=3, channels=(4, 8), hidden_size=8)


@pytest.mark.parametrize("shape", [(5, 20, 20), (5, 20, 20, 3)])
def test_one_probability_per_count_for_grey_and_colour(shape):
  logits = CountClassifier(_SMALL)(tf.random.uniform(shape, seed=0))
  assert logits.shape == (5, 4)
  np.testing.assert_allclose(tf.reduce_sum(tf.nn.softmax(logits), -1),
                             np.ones(5), rtol=1e-6)


def test_counts_are_the_most_probable_ones_in_any_batching():
  classifier = CountClassifier(_SMALL)
  images = np.random.default_rng(0).uniform(size=(7, 20, 20)).astype(
      np.float32)
  expected = np.argmax(classifier(tf.constant(images)), -1)
  np.testing.assert_array_equal(classifier.counts(images, batch_size=3),
                                expected)


@pytest.mark.parametrize("fields, message", [
    ({"max_count": 0}, "max_count must be >= 1"),
    ({"channels": ()}, "channels must be positive"),
    ({"channels": (4, 0)}, "channels must be positive"),
    ({"hidden_size": 0}, "hidden_size must be >= 1"),
])
def test_a_bad_configuration_says_what_is_wrong(fields, message):
  with pytest.raises(ValueError, match=message):
    CountClassifierConfig(**fields)


def test_the_configuration_round_trips_through_json():
  assert CountClassifierConfig.from_json(_SMALL.to_json()) == _SMALL


def test_agreement_sorts_every_scene_into_one_cell():
  truth = np.array([0, 1, 2, 2, 1, 0])
  classifier = np.array([0, 1, 1, 2, 2, 0])
  air = np.array([0, 2, 1, 2, 1, 1])
  assert count_classifier.agreement(truth, classifier, air) == {
      "both_right": 2, "only_classifier_right": 2, "only_air_right": 1,
      "both_wrong": 1}
