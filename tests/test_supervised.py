"""The supervised baseline: labels in a fixed order, a loss that training
lowers, and runs that resume as uninterrupted ones and load as AIR's do."""

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
  trainer = supervised.SupervisedTrainer(TabletopAIR(_CONFIG), 3e-3,
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
