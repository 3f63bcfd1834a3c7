"""The paper's downstream tasks: what AIR's representation is good for.

From the latents AIR infers for a scene (z_pres, z_where, z_what per step)
a small classifier learns (a) the sum of the digits and (b) whether the
digits, read left to right, are in ascending order; a CNN learns the same
from the pixels. Accuracy against the number of labelled training scenes
shows how much the unsupervised representation saves (section 3.1 of the
paper).
"""

from typing import Callable, NamedTuple, Sequence

import numpy as np
import sonnet as snt
import tensorflow as tf

from air_tf.scenes import Scenes

TASKS = ("sum", "sum_of_two", "ascending")


def task_targets(scenes: Scenes, task: str) -> tuple[np.ndarray, np.ndarray]:
  """The target of each scene and which scenes the task is defined on.

  Args:
    scenes: labelled scenes (labels >= 0 for every object).
    task: "sum": the sum of the digits (classes 0 .. 9 x max objects), on
      every scene (an empty one sums to 0, which counting alone gets
      right); "sum_of_two": the same on scenes of exactly two digits;
      "ascending": 1 if the two digits, read left to right, are strictly
      increasing, on scenes of exactly two digits (with fewer the answer is
      always yes, which would reward counting instead).

  Returns:
    (targets `[K]` int32, used `[K]` bool).
  """
  present = np.arange(scenes.labels.shape[1]) < scenes.counts[:, np.newaxis]
  if np.any(scenes.labels[present] < 0):
    raise ValueError("Downstream tasks need the class of every object; these "
                     "scenes have unlabelled objects.")
  if task in ("sum", "sum_of_two"):
    targets = np.where(present, scenes.labels, 0).sum(axis=1)
    used = (np.ones(len(targets), bool) if task == "sum" else
            scenes.counts == 2)
    return targets.astype(np.int32), used
  if task == "ascending":
    used = scenes.counts == 2
    order = np.argsort(scenes.boxes[:, :2, 1], axis=1)  # By left edge.
    left_to_right = np.take_along_axis(scenes.labels[:, :2], order, axis=1)
    targets = (left_to_right[:, 0] < left_to_right[:, 1]).astype(np.int32)
    return targets, used
  raise ValueError(f"task must be one of {TASKS}, got {task!r}.")


def num_classes(task: str, max_objects: int) -> int:
  """Number of possible targets of `task`."""
  return 9 * max_objects + 1 if task.startswith("sum") else 2


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
  """A small CNN on `[B, H, W]` images: the downstream tasks' supervised
  baseline, and the count classifier (`supervised.count_classifier`)."""

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


class Fit(NamedTuple):
  """What `fit_and_score` chose and measured."""
  test_accuracy: float
  validation_accuracy: float
  learning_rate: float  # The grid's best on validation.
  steps: int  # Adam steps of the kept weights.


def validation_split(count: int, fraction: float = 0.2) -> int:
  """Of `count` labelled examples, how many validate (at least 1, and at
  least 1 left to train on)."""
  if count < 2:
    raise ValueError(f"A validation split needs >= 2 labelled examples, got "
                     f"{count}.")
  return min(max(1, round(fraction * count)), count - 1)


def _train_with_early_stopping(network, inputs, targets, validation_inputs,
                               validation_targets, learning_rate, seed,
                               batch_size, eval_every, patience, max_steps):
  """Adam on `network` until its validation score has not improved for
  `patience` evaluations; the network keeps its best weights. The score is
  validation accuracy, ties broken by the lower loss: the loss alone stops
  a classifier that grows overconfident on its errors while its accuracy
  still rises (the pixel CNN stopped at 100 steps). Returns (best score,
  steps of the best weights)."""
  optimizer = snt.optimizers.Adam(learning_rate)
  batch_size = min(batch_size, len(inputs))

  @tf.function(autograph=False)
  def update(batch_inputs, batch_targets):
    with tf.GradientTape() as tape:
      loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
          batch_targets, network(batch_inputs)))
    gradients = tape.gradient(loss, network.trainable_variables)
    optimizer.apply(gradients, network.trainable_variables)

  rng = np.random.default_rng(seed)
  best_score, best_step, best_weights = None, 0, None
  for step in range(1, max_steps + 1):
    chosen = rng.integers(len(inputs), size=batch_size)
    update(tf.constant(inputs[chosen]), tf.constant(targets[chosen]))
    if step % eval_every and step != max_steps:
      continue
    score = _validation_score(network, validation_inputs, validation_targets)
    if best_score is None or score > best_score:
      best_score, best_step = score, step
      best_weights = [v.numpy() for v in network.trainable_variables]
    elif step - best_step >= patience * eval_every:
      break
  for variable, value in zip(network.trainable_variables, best_weights):
    variable.assign(value)
  return best_score, best_step


def _validation_score(network, inputs, targets) -> tuple[float, float]:
  """(accuracy, -mean cross-entropy): higher is better."""
  logits = batched_logits(network, inputs)
  accuracy = float(np.mean(np.argmax(logits, axis=1) == targets))
  loss = float(tf.reduce_mean(
      tf.nn.sparse_softmax_cross_entropy_with_logits(targets, logits)))
  return accuracy, -loss


def batched_logits(network: snt.Module, inputs: np.ndarray,
                   batch_size: int = 500) -> np.ndarray:
  """`[K, C]` logits of a classifier on `[K, ...]` inputs, a batch at a
  time."""
  return np.concatenate([network(tf.constant(inputs[start:start + batch_size]))
                         .numpy() for start in range(0, len(inputs),
                                                     batch_size)])


def _accuracy(network, inputs, targets) -> float:
  return float(np.mean(np.argmax(batched_logits(network, inputs), axis=1)
                       == targets))


def fit_and_score(make_network: Callable[[], snt.Module],
                  train_inputs: np.ndarray, train_targets: np.ndarray,
                  test_inputs: np.ndarray, test_targets: np.ndarray,
                  seed: int, learning_rates: Sequence[float] = (3e-4, 1e-3,
                                                                3e-3),
                  batch_size: int = 64, eval_every: int = 100,
                  patience: int = 10, max_steps: int = 20000) -> Fit:
  """Trains a classifier to convergence and scores it on the test set.

  A fifth of the labelled examples (`validation_split`) is held out. For
  each learning rate a fresh network is trained by softmax cross-entropy
  with Adam until its validation accuracy (ties: loss) has not improved
  for `patience` evaluations (every `eval_every` steps, at most
  `max_steps`) and keeps its best weights; the learning rate with the best
  validation accuracy (ties: loss) is the one scored.

  Args:
    make_network: builds a network mapping `[B, ...]` inputs to `[B, C]`
      logits.
    train_inputs, train_targets: the labelled examples `[K, ...]`, `[K]`.
    test_inputs, test_targets: held-out examples.
    seed: seeds the split, the weights and the batches.
    learning_rates: the grid to choose from.
    batch_size: examples per step (at most the training part's size).
    eval_every, patience, max_steps: when to check and to stop.

  Returns:
    The chosen `Fit`.
  """
  order = np.random.default_rng(seed).permutation(len(train_inputs))
  held = validation_split(len(train_inputs))
  validation, train = order[:held], order[held:]
  best = None
  for learning_rate in learning_rates:
    tf.random.set_seed(seed)
    network = make_network()
    score, steps = _train_with_early_stopping(
        network, train_inputs[train], train_targets[train],
        train_inputs[validation], train_targets[validation], learning_rate,
        seed, batch_size, eval_every, patience, max_steps)
    if best is None or score > best[0]:
      best = (score, network, learning_rate, steps)
  _, network, learning_rate, steps = best
  return Fit(_accuracy(network, test_inputs, test_targets),
             _accuracy(network, train_inputs[validation],
                       train_targets[validation]), learning_rate, steps)
