"""Per-image optimisation of object poses through the fixed table-top
renderer: the slow alternative to AIR's one forward pass that the paper
compares against, and a test bench for the renderer's gradients.

Given each image's objects (count and shapes known), poses start from
random guesses and follow Adam on the squared pixel error; the best of
several restarts per image is kept.
"""

import time
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from air_tf import shapes
from air_tf import tabletop
from air_tf.tabletop_renderer import TabletopRenderer


class Fit(NamedTuple):
  """Fitted poses and what they cost.

  Attributes:
    poses: `[B, N, 3]` best fitted (x, y, rotation) per image.
    squared_error: `[B]` summed squared pixel error of the best restart.
    seconds: wall-clock time of the whole fit, tracing included.
  """
  poses: np.ndarray
  squared_error: np.ndarray
  seconds: float


def random_poses(shape: tuple[int, ...], seed: int) -> np.ndarray:
  """`[*shape, 3]` poses drawn as the scene generator draws them (without
  keeping objects apart)."""
  rng = np.random.default_rng(seed)
  width = tabletop.PLACEMENT_HALF_WIDTH
  return np.concatenate([rng.uniform(-width, width, [*shape, 2]),
                         rng.uniform(0, 2 * np.pi, [*shape, 1])],
                        axis=-1).astype(np.float32)


def fit_poses(renderer: TabletopRenderer, images: np.ndarray,
              presence: np.ndarray, identities: np.ndarray,
              initial_poses: np.ndarray, steps: int = 200,
              learning_rate: float = 0.03) -> Fit:
  """Fits poses to images by gradient descent through the renderer.

  Args:
    renderer: renders (and differentiates) candidate scenes.
    images: `[B, H, W, 3]` float32 targets in [0, 1].
    presence: `[B, N]` 1 for the objects to fit.
    identities: `[B, N]` int32 shape indices (any value where absent).
    initial_poses: `[R, B, N, 3]` starting poses of R restarts.
    steps: Adam steps per restart.
    learning_rate: Adam's step size.

  Returns:
    The `Fit` of the best restart per image.
  """
  restarts, batch_size = initial_poses.shape[:2]
  targets = tf.constant(np.tile(images, [restarts, 1, 1, 1]), tf.float32)
  presence = tf.constant(np.tile(presence, [restarts, 1]), tf.float32)
  one_hot = tf.one_hot(np.tile(np.maximum(identities, 0), [restarts, 1]),
                       shapes.NUM_SHAPES)
  poses = tf.Variable(initial_poses.reshape(-1, *initial_poses.shape[2:]))
  optimizer = tf.keras.optimizers.Adam(learning_rate)

  def squared_error():
    rendered = renderer(presence, one_hot, poses)
    return tf.reduce_sum(tf.square(rendered - targets), axis=[1, 2, 3])

  @tf.function(jit_compile=True, autograph=False)
  def step():
    with tf.GradientTape() as tape:
      error = squared_error()
      total = tf.reduce_sum(error)
    optimizer.apply_gradients([(tape.gradient(total, poses), poses)])
    return error

  start = time.time()
  for _ in range(steps):
    step()
  error = tf.function(squared_error, jit_compile=True,
                      autograph=False)().numpy()
  seconds = time.time() - start
  error = error.reshape(restarts, batch_size)
  best = np.argmin(error, axis=0)
  fitted = poses.numpy().reshape(restarts, batch_size, -1, 3)
  return Fit(fitted[best, np.arange(batch_size)],
             error[best, np.arange(batch_size)], seconds)


def pose_errors(fitted: np.ndarray, scenes: tabletop.TabletopScenes
                ) -> tuple[np.ndarray, np.ndarray]:
  """Position errors (world units) and rotation errors modulo symmetry
  (radians; NaN where the rotation does not show) of every object, in the
  scenes' own object order."""
  present = scenes.identities >= 0
  position = np.linalg.norm(fitted[..., :2] - scenes.poses[..., :2],
                            axis=-1)[present]
  rotation = shapes.rotation_error(fitted[..., 2][present],
                                   scenes.poses[..., 2][present],
                                   scenes.identities[present])
  return position, rotation
