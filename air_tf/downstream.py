"""The paper's downstream tasks: what AIR's representation is good for.

From the latents AIR infers for a scene (z_pres, z_where, z_what per step)
a small classifier learns (a) the sum of the digits and (b) whether the
digits, read left to right, are in ascending order; a CNN learns the same
from the pixels. Accuracy against the number of labelled training scenes
shows how much the unsupervised representation saves (section 3.1 of the
paper).
"""

import numpy as np
import sonnet as snt
import tensorflow as tf

from air_tf.data import Scenes

TASKS = ("sum", "ascending")


def task_targets(scenes: Scenes, task: str) -> tuple[np.ndarray, np.ndarray]:
  """The target of each scene and which scenes the task is defined on.

  Args:
    scenes: labelled scenes (labels >= 0 for every object).
    task: "sum": the sum of the digits (classes 0 .. 9 x max objects);
      "ascending": 1 if the two digits, read left to right, are strictly
      increasing. It is defined on scenes of exactly two digits only: with
      fewer the answer is always yes, which would reward counting instead.

  Returns:
    (targets `[K]` int32, used `[K]` bool).
  """
  present = np.arange(scenes.labels.shape[1]) < scenes.counts[:, np.newaxis]
  if np.any(scenes.labels[present] < 0):
    raise ValueError("Downstream tasks need the class of every object; these "
                     "scenes have unlabelled objects.")
  if task == "sum":
    targets = np.where(present, scenes.labels, 0).sum(axis=1)
    return targets.astype(np.int32), np.ones(len(targets), bool)
  if task == "ascending":
    used = scenes.counts == 2
    order = np.argsort(scenes.boxes[:, :2, 1], axis=1)  # By left edge.
    left_to_right = np.take_along_axis(scenes.labels[:, :2], order, axis=1)
    targets = (left_to_right[:, 0] < left_to_right[:, 1]).astype(np.int32)
    return targets, used
  raise ValueError(f"task must be one of {TASKS}, got {task!r}.")


def num_classes(task: str, max_objects: int) -> int:
  """Number of possible targets of `task`."""
  return 9 * max_objects + 1 if task == "sum" else 2


def air_features(z_pres: np.ndarray, z_where: np.ndarray,
                 z_what: np.ndarray) -> np.ndarray:
  """AIR's representation of each scene, `[K, N * (1 + 3 + D)]` float32.

  Args:
    z_pres: `[K, N]` inferred presences (0 or 1).
    z_where: `[K, N, 3]` inferred (scale, x, y).
    z_what: `[K, N, D]` inferred appearance codes.

  Returns:
    Per step, z_pres, z_where and z_what, the latter two zeroed where the
    step found no object, flattened.
  """
  mask = z_pres[..., np.newaxis]
  steps = np.concatenate([mask, z_where * mask, z_what * mask], axis=2)
  return steps.reshape(len(steps), -1).astype(np.float32)


class PixelCNN(snt.Module):
  """The supervised baseline: a small CNN on `[B, H, W]` images."""

  def __init__(self, num_outputs: int, name: str = "pixel_cnn"):
    super().__init__(name=name)
    self._layers = [
        snt.Conv2D(32, 5, stride=2), tf.nn.relu,
        snt.Conv2D(64, 3, stride=2), tf.nn.relu,
        snt.Conv2D(64, 3, stride=2), tf.nn.relu,
        snt.Flatten(), snt.Linear(256), tf.nn.relu,
        snt.Linear(num_outputs)]

  def __call__(self, images: tf.Tensor) -> tf.Tensor:
    """`[B, num_outputs]` logits."""
    outputs = images[..., tf.newaxis]
    for layer in self._layers:
      outputs = layer(outputs)
    return outputs


def feature_classifier(num_outputs: int) -> snt.Module:
  """The classifier on AIR's representation: an MLP, `[B, F]` -> logits."""
  return snt.nets.MLP([256, 256, num_outputs], name="feature_mlp")


def fit_and_score(network: snt.Module, train_inputs: np.ndarray,
                  train_targets: np.ndarray, test_inputs: np.ndarray,
                  test_targets: np.ndarray, steps: int, seed: int,
                  batch_size: int = 64, learning_rate: float = 1e-3) -> float:
  """Trains `network` by softmax cross-entropy and returns test accuracy.

  Args:
    network: maps a batch of inputs to `[B, C]` logits.
    train_inputs, train_targets: the labelled examples `[K, ...]`, `[K]`.
    test_inputs, test_targets: held-out examples.
    steps: Adam steps on batches drawn with replacement (a fixed budget, so
      every training-set size gets the same optimisation).
    seed: seeds the batches.
    batch_size: examples per step (at most the training-set size).
    learning_rate: Adam's step size.

  Returns:
    Fraction of test examples whose arg-max logit is the target.
  """
  optimizer = snt.optimizers.Adam(learning_rate)
  batch_size = min(batch_size, len(train_inputs))

  @tf.function
  def update(inputs, targets):
    with tf.GradientTape() as tape:
      loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
          targets, network(inputs)))
    gradients = tape.gradient(loss, network.trainable_variables)
    optimizer.apply(gradients, network.trainable_variables)

  predict = tf.function(lambda inputs: tf.argmax(network(inputs), axis=1,
                                                 output_type=tf.int32))
  rng = np.random.default_rng(seed)
  for _ in range(steps):
    chosen = rng.integers(len(train_inputs), size=batch_size)
    update(tf.constant(train_inputs[chosen]),
           tf.constant(train_targets[chosen]))
  correct = 0
  for start in range(0, len(test_inputs), 500):
    predicted = predict(tf.constant(test_inputs[start:start + 500])).numpy()
    correct += int(np.sum(predicted == test_targets[start:start + 500]))
  return correct / len(test_inputs)
