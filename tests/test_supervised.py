"""The supervised networks: the table-top baseline's labels in a fixed
order, losses that training lowers, runs that resume as uninterrupted ones
(the baseline's loading as AIR's do), and the count classifier scored on
the held-out sets AIR is scored on."""

import numpy as np
import pytest
import tensorflow as tf

from air_tf import datasets
from air_tf import logdir as logdir_lib
from air_tf import supervised
from air_tf import shapes
from air_tf import tabletop
from air_tf.tabletop_air import TabletopAIR, TabletopConfig

_CONFIG = TabletopConfig(image_size=24, lstm_size=16,
                         image_encoder_hidden=(16,), baseline_lstm_size=8,
                         baseline_hidden=(8,), dair=False)
_DATA = datasets.DataConfig(dataset="tabletop", data_seed=3)


@pytest.fixture(scope="module")
def scenes():
  return tabletop.tabletop_scenes(16, seed=3, image_size=24,
                                  jit_compile=False)


def test_labels_list_objects_from_the_left(scenes):
  indices = np.arange(16)
  labels = supervised.labels(scenes, indices)
  presence = labels.presence.numpy()
  np.testing.assert_array_equal(presence.sum(1), scenes.counts)
  for k in indices:
    count = scenes.counts[k]
    x = labels.poses.numpy()[k, :count, 0]
    assert np.all(np.diff(x) > 0)
    order = np.argsort(scenes.poses[k, :count, 0])
    np.testing.assert_array_equal(labels.identities.numpy()[k, :count],
                                  scenes.identities[k, order])
    np.testing.assert_allclose(labels.poses.numpy()[k, :count],
                               scenes.poses[k, order])


def test_training_lowers_the_loss(scenes):
  tf.random.set_seed(0)
  trainer = supervised.tabletop_trainer(TabletopAIR(_CONFIG), 3e-3,
                                        jit_compile=False)
  images = tf.constant(scenes.float_images())
  labels = supervised.labels(scenes, np.arange(16))
  before = float(supervised.supervised_loss(trainer.model, images,
                                            labels)["loss"])
  for _ in range(30):
    trainer.train_step(images, labels)
  after = float(supervised.supervised_loss(trainer.model, images,
                                           labels)["loss"])
  assert after < 0.7 * before, (before, after)


def _train(logdir, steps):
  supervised.train(str(logdir), _CONFIG, _DATA, num_steps=steps,
                   batch_size=4, learning_rate=1e-3, seed=0,
                   num_train_images=16, checkpoint_every=2,
                   jit_compile=False, report=lambda line: None)


def test_a_resumed_run_equals_an_uninterrupted_one_and_loads_as_air(
    tmp_path):
  _train(tmp_path / "straight", 4)
  _train(tmp_path / "resumed", 2)
  _train(tmp_path / "resumed", 4)
  straight, step, _ = logdir_lib.restore_model(str(tmp_path / "straight"))
  resumed, _, _ = logdir_lib.restore_model(str(tmp_path / "resumed"))
  assert step == 4 and isinstance(straight, TabletopAIR)
  for a, b in zip(straight.model_variables, resumed.model_variables):
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_angles_that_look_the_same_are_the_same_label(scenes):
  """The network states angles within one period of the shapes' symmetry,
  so a label turned by whole periods costs the same."""
  model = TabletopAIR(_CONFIG)
  images = tf.constant(scenes.float_images())
  labels = supervised.labels(scenes, np.arange(16))
  turns = np.random.default_rng(0).integers(-3, 4, labels.poses.shape[:2])
  turned = labels._replace(poses=labels.poses + tf.constant(np.stack(
      [0 * turns, 0 * turns, turns * shapes.ROTATION_PERIOD],
      axis=-1), tf.float32))
  np.testing.assert_allclose(
      supervised.supervised_loss(model, images, turned)["rotation"],
      supervised.supervised_loss(model, images, labels)["rotation"],
      rtol=1e-4)


_SPRITES = datasets.DataConfig(dataset="sprites", data_seed=2)


def _train_count_classifier(logdir, steps):
  return supervised.train_count_classifier(
      str(logdir), _SPRITES, num_steps=steps, batch_size=8,
      learning_rate=3e-3, seed=0, num_train_images=32, checkpoint_every=2,
      jit_compile=False, report=lambda line: None)


def test_count_training_lowers_the_cross_entropy():
  scenes, _ = datasets.make_scenes(_SPRITES, 32, 0, 50)
  tf.random.set_seed(0)
  trainer = supervised.count_trainer(supervised.count_classifier(_SPRITES),
                                     3e-3, jit_compile=False)
  # The classifier and Adam's slots exist before the first step, which so
  # is traced once.
  assert len(trainer.optimizer.m) == len(trainer.model.trainable_variables)
  images = tf.constant(scenes.float_images())
  counts = tf.constant(scenes.counts, tf.int32)
  before = float(trainer.train_step(images, counts)["loss"])
  for _ in range(40):
    after = float(trainer.train_step(images, counts)["loss"])
  assert after < 0.5 * before, (before, after)


def test_the_classifier_answers_every_count_of_the_scenes():
  logits = supervised.count_classifier(_SPRITES)(tf.zeros([2, 50, 50]))
  assert logits.shape == (2, 1 + max(_SPRITES.counts))
  with pytest.raises(ValueError, match="reads 2D scenes"):
    supervised.count_classifier(_DATA)


def test_a_resumed_count_classifier_equals_an_uninterrupted_one(tmp_path):
  straight = _train_count_classifier(tmp_path / "straight", 4)
  _train_count_classifier(tmp_path / "resumed", 2)
  resumed = _train_count_classifier(tmp_path / "resumed", 4)
  for a, b in zip(straight.variables, resumed.variables):
    np.testing.assert_array_equal(a.numpy(), b.numpy())
  with pytest.raises(ValueError, match="holds a different dataset"):
    supervised.train_count_classifier(
        str(tmp_path / "straight"), datasets.DataConfig(dataset="sprites"),
        4, 8, 3e-3, 0, 32, 2, jit_compile=False)


def test_agreement_sorts_every_scene_into_one_cell():
  truth = np.array([0, 1, 2, 2, 1, 0])
  classifier = np.array([0, 1, 1, 2, 2, 0])
  air = np.array([0, 2, 1, 2, 1, 1])
  assert supervised.agreement(truth, classifier, air) == {
      "both_right": 2, "only_classifier_right": 2, "only_air_right": 1,
      "both_wrong": 1}


def test_held_out_counts_are_scored_on_every_set_of_evaluate():
  data_config = datasets.DataConfig(data_seed=1)
  classifier = supervised.count_classifier(data_config)
  figures = supervised.count_held_out(
      classifier, data_config, 12,
      air_counter=lambda images: np.ones(len(images), np.int64),
      report=lambda line: None)
  assert set(figures) == {"held_out", *datasets.held_out_variants(
      data_config)}
  _, held_out = datasets.make_scenes(
      datasets.final_evaluation_config(data_config), 0, 12, 50)
  counted = np.argmax(classifier(tf.constant(held_out.float_images())), -1)
  figure = figures["held_out"]
  assert figure["count_accuracy"] == np.mean(counted == held_out.counts)
  assert np.trace(figure["confusion"]) == np.sum(counted == held_out.counts)
  assert figure["air_count_accuracy"] == np.mean(held_out.counts == 1)
  assert sum(figure["agreement"].values()) == 12
