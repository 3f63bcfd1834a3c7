"""MuJoCo as AIR's fixed renderer: its pictures, finite-difference
gradients that move objects towards what the image shows, and a model that
trains on it without XLA. Skipped, saying why, where MuJoCo cannot render."""

import numpy as np
import pytest
import tensorflow as tf

from air_tf import export
from air_tf import mujoco_scenes
from air_tf import shapes
from air_tf import tabletop
from air_tf.mujoco_renderer import MujocoRenderer
from air_tf.tabletop_air import TabletopAIR, TabletopConfig
from air_tf.tabletop_renderer import Camera
from air_tf.training import TrainConfig, Trainer

_REASON = mujoco_scenes.unavailable_reason()
pytestmark = pytest.mark.skipif(_REASON is not None, reason=str(_REASON))
_CAMERA = Camera(image_size=32)
_CONFIG = TabletopConfig(image_size=16, max_steps=1, lstm_size=8,
                         image_encoder_hidden=(8,), baseline_lstm_size=4,
                         baseline_hidden=(4,), dair=False,
                         renderer_gradients="finite_differences",
                         renderer="mujoco")


def _cube_at(x):
  return (tf.ones([1, 1]), tf.one_hot([[0]], shapes.NUM_SHAPES),
          tf.constant([[[x, 0.1, 0.3]]]))


def test_it_draws_what_mujoco_draws():
  renderer = MujocoRenderer(_CAMERA)
  identities = np.array([[0, 2], [1, -1]])
  poses = np.array([[[0.2, 0.1, 0.3], [-0.3, -0.2, 1.0]],
                    [[0.0, 0.3, 0.0], [0.0, 0.0, 0.0]]], np.float32)
  images = renderer(tf.constant(identities >= 0, tf.float32),
                    tf.one_hot(np.maximum(identities, 0), shapes.NUM_SHAPES),
                    tf.constant(poses))
  np.testing.assert_allclose(
      images, mujoco_scenes.render_scenes(identities, poses, _CAMERA) / 255.0,
      atol=1e-6)


def test_finite_differences_move_an_object_towards_the_pictured_one():
  renderer = MujocoRenderer(_CAMERA)
  for target_x, start_x in ((0.1, -0.05), (-0.1, 0.05)):
    target = renderer(*_cube_at(target_x))
    presence, identity, pose = _cube_at(start_x)
    with tf.GradientTape() as tape:
      tape.watch(pose)
      loss = tf.reduce_sum(tf.square(renderer(presence, identity, pose) -
                                     target))
    gradient = tape.gradient(loss, pose).numpy()[0, 0]
    # Downhill moves x towards the target's.
    assert -gradient[0] * (target_x - start_x) > 0, gradient


def test_a_mujoco_model_trains_without_xla_and_is_not_exported():
  tf.random.set_seed(0)
  model = TabletopAIR(_CONFIG)
  with pytest.raises(ValueError, match="--nojit_compile"):
    Trainer(model, TrainConfig())
  trainer = Trainer(model, TrainConfig(batch_size=4, samples_per_image=1,
                                       jit_compile=False,
                                       presence_warmup_steps=0))
  images = tf.constant(tabletop.tabletop_scenes(
      4, seed=0, counts=(1,), image_size=16, jit_compile=False,
      scene_renderer="mujoco").float_images())
  logs = [trainer.train_step(images) for _ in range(3)]
  assert all(np.isfinite(float(log["elbo"])) for log in logs)
  assert int(logs[-1]["skipped_updates"]) == 0
  with pytest.raises(ValueError, match="SavedModel cannot hold it"):
    export.export(model, 1e-5, "/nonexistent/never_written")


def test_the_mujoco_renderer_asks_for_finite_differences_without_dair():
  with pytest.raises(ValueError, match="finite_differences"):
    TabletopConfig(renderer="mujoco", dair=False)
  with pytest.raises(ValueError, match="dair=False"):
    TabletopConfig(renderer="mujoco", renderer_gradients="finite_differences")
  with pytest.raises(ValueError, match="renderer must be one of"):
    TabletopConfig(renderer="blender")
