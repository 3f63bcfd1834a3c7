"""Networks taught the scene generator's labels instead of learning by the
ELBO: the table-top experiment's supervised baseline, and a count
classifier that measures how well the counts AIR learns unsupervised can
be read from the pictures at all.

The baseline is AIR's own inference network. Its step i is taught the i-th
object from the left (the order a person would label them in): z_pres_i by
cross-entropy up to one step past the count,
the identity by cross-entropy, and the pose by plain squared error on
(x, y) and on the rotation angle, as the paper's supervised network was.
The network states angles within one period of the shapes' symmetry
(`shapes.ROTATION_PERIOD`, a quarter turn), so the label is
stated there too, as the same angle plus whole periods. What squared
error still does not know is that the period's two ends are one angle:
a cube at -44 degrees looks like one at +44 and costs 88 degrees of
error, so near the seam it teaches the middle. AIR, which explains the
picture through the renderer, has no such average to learn. The trained
network is a `TabletopAIR` like any other: `metrics.Evaluator` scores it.

The count classifier, the downstream tasks' CNN on pixels
(`downstream.PixelCNN`), is taught the counts of the scenes AIR trains on
and counts the held-out scenes that `experiments/evaluate.py` scores AIR
on. AIR is never told how many objects a scene holds: where it miscounts
a scene the classifier reads right, AIR's learning is at fault; where both
miscount, the picture itself is hard to read. The classifier's accuracy
is a lower bound on what can be counted (a better reader may exist): it
shows that a target is within reach, not that it is out of it.
"""

from typing import Any, Callable, NamedTuple, Optional, Sequence

import numpy as np
import sonnet as snt
import tensorflow as tf

from air_tf import batches
from air_tf import datasets
from air_tf import downstream
from air_tf import logdir as logdir_lib
from air_tf import metrics
from air_tf import models
from air_tf import shapes
from air_tf import tabletop
from air_tf import training
from air_tf.config import AIRConfig
from air_tf.tabletop_air import TabletopAIR, TabletopConfig


class Labels(NamedTuple):
  """The targets of a batch, objects sorted from the left, `[B, N, ...]`."""
  presence: tf.Tensor  # [B, N] 1 for the first `count` steps.
  identities: tf.Tensor  # [B, N] int32 shape index; 0 past the count.
  poses: tf.Tensor  # [B, N, 3] (x, y, rotation in [0, 2 pi)); 0 past it.


def labels(scenes: tabletop.TabletopScenes, indices: np.ndarray) -> Labels:
  """The `Labels` of `scenes[indices]`, objects sorted by x (left first;
  the camera looks along y)."""
  counts = scenes.counts[indices]
  present = np.arange(scenes.identities.shape[1]) < counts[:, np.newaxis]
  order = np.argsort(np.where(present, scenes.poses[indices, :, 0], np.inf),
                     axis=1, kind="stable")
  identities = np.take_along_axis(scenes.identities[indices], order, axis=1)
  poses = np.take_along_axis(scenes.poses[indices], order[..., np.newaxis],
                             axis=1)
  return Labels(presence=tf.constant(present, tf.float32),
                identities=tf.constant(np.maximum(identities, 0), tf.int32),
                poses=tf.constant(poses, tf.float32))


def _within_one_period(angle: tf.Tensor) -> tf.Tensor:
  """The angle plus whole `shapes.ROTATION_PERIOD`s, in [-period / 2,
  period / 2) (whose ends are the seam `shapes.distance_from_seam`
  measures from)."""
  half = shapes.ROTATION_PERIOD / 2
  return tf.math.floormod(angle + half, shapes.ROTATION_PERIOD) - half


def supervised_loss(model: TabletopAIR, images: tf.Tensor,
                    targets: Labels) -> dict[str, tf.Tensor]:
  """The losses of `[B, H, W, 3]` images, batch means of per-image sums.

  Inference runs deterministically with the true presence (so every step
  that has an object to learn runs), as teacher forcing does.

  Returns:
    "loss" (their sum) and its terms "presence", "identity", "position",
    "rotation".
  """
  posterior = model.inference(images, sample=False,
                              presence=targets.presence)
  present = targets.presence
  # z_pres_i is asked where step i runs: up to one step past the count.
  asked = tf.concat([tf.ones_like(present[:, :1]), present[:, :-1]], axis=1)
  per_step = {
      "presence": asked * tf.nn.sigmoid_cross_entropy_with_logits(
          present, posterior.z_pres_logits),
      "identity": present * tf.nn.sparse_softmax_cross_entropy_with_logits(
          targets.identities, posterior.z_what_logits),
      "position": present * tf.reduce_sum(
          tf.square(posterior.z_where_loc[..., :2] - targets.poses[..., :2]),
          axis=-1),
      "rotation": present * tf.square(posterior.z_where_loc[..., 2] -
                                      _within_one_period(
                                          targets.poses[..., 2])),
  }
  losses = {name: tf.reduce_mean(tf.reduce_sum(value, axis=1))
            for name, value in per_step.items()}
  losses["loss"] = tf.add_n(list(losses.values()))
  return losses


class SupervisedTrainer(snt.Module):
  """Adam on a supervised loss of a network's weights."""

  def __init__(self, network: snt.Module,
               loss: Callable[[tf.Tensor, Any], dict[str, tf.Tensor]],
               variables: Sequence[tf.Variable], learning_rate: float,
               jit_compile: bool = True):
    """Constructs the trainer; `tabletop_trainer` and `count_trainer` make
    the two of this module.

    Args:
      network: what is checkpointed as the model.
      loss: (images, targets) -> losses, their sum "loss" minimised.
      variables: the network's weights that are trained, all built: Adam's
        slots are made now, so the step is traced once.
      learning_rate: Adam's step size.
      jit_compile: compile the step with XLA.
    """
    super().__init__(name="supervised_trainer")
    self.model = network
    self._loss = loss
    self._variables = tuple(variables)
    self.optimizer = snt.optimizers.Adam(learning_rate)
    training.make_slots(self.optimizer, self._variables)
    self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    self._compiled_step = tf.function(self._update, jit_compile=jit_compile,
                                      autograph=False)

  def _update(self, images: tf.Tensor, targets: Any) -> dict[str, tf.Tensor]:
    with tf.GradientTape() as tape:
      losses = self._loss(images, targets)
    self.optimizer.apply(tape.gradient(losses["loss"], self._variables),
                         self._variables)
    self.step.assign_add(1)
    return losses

  def train_step(self, images: tf.Tensor,
                 targets: Any) -> dict[str, tf.Tensor]:
    """One update on a batch of images and their targets; returns the
    losses."""
    return self._compiled_step(images, targets)

  def checkpoint(self) -> tf.train.Checkpoint:
    """The network (a table-top model is read as AIR's by
    `logdir.restore_model`), the optimiser and the step."""
    return tf.train.Checkpoint(model=self.model, optimizer=self.optimizer,
                               step=self.step)


def tabletop_trainer(model: TabletopAIR, learning_rate: float,
                     jit_compile: bool = True) -> SupervisedTrainer:
  """Trains the inference network of `model` on `supervised_loss` of
  `[B, H, W, 3]` images and their `Labels` (nothing else has weights)."""
  model.build()  # The baseline too, untrained: a checkpoint like AIR's.
  return SupervisedTrainer(
      model, lambda images, targets: supervised_loss(model, images, targets),
      model.model_variables, learning_rate, jit_compile)


def train(logdir: str, model_config: TabletopConfig,
          data_config: datasets.DataConfig, num_steps: int, batch_size: int,
          learning_rate: float, seed: int, num_train_images: int,
          checkpoint_every: int, jit_compile: bool = True,
          report: Callable[[str], None] = print) -> None:
  """Trains (or resumes) the supervised network of the run in `logdir`.

  The logdir is laid out as `experiments/train.py`'s (the model's and the
  scenes' configurations, checkpoints), so that `experiments/evaluate.py`
  scores it as it scores AIR.

  Args:
    logdir: the run's folder.
    model_config: the network (`TabletopAIR`'s inference network).
    data_config: the table-top scenes, labels included.
    num_steps: updates in all.
    batch_size: images per update.
    learning_rate: Adam's step size.
    seed: initial weights and the order of the batches.
    num_train_images: training scenes.
    checkpoint_every: steps between checkpoints.
    jit_compile: compile the step with XLA.
    report: where progress lines go.

  Raises:
    ValueError: the logdir holds another run, or the scenes are not
      table-top scenes.
  """
  models.check_dataset(model_config, data_config.dataset)
  logdir_lib.ensure_config(logdir, model_config)
  logdir_lib.ensure_config(logdir, data_config)
  scenes, _ = datasets.make_scenes(data_config, num_train_images, 0,
                                   model_config.image_size)
  tf.random.set_seed(seed)
  trainer = tabletop_trainer(TabletopAIR(model_config), learning_rate,
                             jit_compile)
  _run_updates(trainer, logdir, scenes.float_images(),
               lambda indices: labels(scenes, indices), num_steps,
               batch_size, seed, checkpoint_every, report)


def _run_updates(trainer: SupervisedTrainer, logdir: str, images: np.ndarray,
                 targets_of: Callable[[np.ndarray], Any], num_steps: int,
                 batch_size: int, seed: int, checkpoint_every: int,
                 report: Callable[[str], None]) -> None:
  """Resumes `trainer` from the logdir's latest checkpoint, then trains it
  on batches of `images` and `targets_of` their indices up to `num_steps`,
  checkpointing and reporting its losses every `checkpoint_every` steps."""
  manager = logdir_lib.checkpoint_manager(trainer.checkpoint(), logdir)
  resume_from = logdir_lib.latest_checkpoint(logdir)
  if resume_from:
    trainer.checkpoint().restore(resume_from).assert_existing_objects_matched()
  start = int(trainer.step)
  logdir_lib.record_launch(logdir, start)
  for step, indices in zip(range(start + 1, num_steps + 1),
                           batches.batch_indices(len(images), batch_size,
                                                 seed, start)):
    losses = trainer.train_step(tf.constant(images[indices]),
                                targets_of(indices))
    if step % checkpoint_every == 0 or step == num_steps:
      manager.save(checkpoint_number=step)
      report(f"step {step:>7d}/{num_steps}  " + "  ".join(
          f"{name} {float(value):.4f}" for name, value in losses.items()))


# The 2D datasets draw scenes on AIR's canvas.
_CANVAS_SIDE = AIRConfig().canvas_size[0]


def _largest_count(data_config: datasets.DataConfig) -> int:
  return max(data_config.counts + data_config.test_counts)


def count_classifier(
    data_config: datasets.DataConfig) -> downstream.PixelCNN:
  """A fresh count classifier of `data_config`'s scenes, built: logits of 0
  up to their most objects.

  Raises:
    ValueError: the scenes are table-top scenes.
  """
  if data_config.dataset == "tabletop":
    raise ValueError("The count classifier reads 2D scenes; the tabletop "
                     "dataset's supervised network is `train`'s.")
  classifier = downstream.PixelCNN(_largest_count(data_config) + 1,
                                   name="count_classifier")
  classifier(tf.zeros([1, _CANVAS_SIDE, _CANVAS_SIDE]))
  return classifier


def count_trainer(classifier: downstream.PixelCNN, learning_rate: float,
                  jit_compile: bool = True) -> SupervisedTrainer:
  """Trains a built count classifier on the cross-entropy of `[B, H, W]`
  images' `[B]` int32 counts."""

  def loss(images, counts):
    return {"loss": tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(
            counts, classifier(images)))}

  return SupervisedTrainer(classifier, loss, classifier.trainable_variables,
                           learning_rate, jit_compile)


def train_count_classifier(
    logdir: str, data_config: datasets.DataConfig, num_steps: int,
    batch_size: int, learning_rate: float, seed: int, num_train_images: int,
    checkpoint_every: int, jit_compile: bool = True,
    report: Callable[[str], None] = print) -> downstream.PixelCNN:
  """Trains (or resumes) the count classifier of the run in `logdir` on the
  training scenes of `data_config` (the scenes AIR trains on with it).

  Args:
    logdir: the run's folder: the scenes' configuration, checkpoints.
    data_config: the scenes (multi_mnist, omniglot or sprites).
    num_steps: updates in all.
    batch_size: images per update.
    learning_rate: Adam's step size.
    seed: initial weights and the order of the batches.
    num_train_images: training scenes.
    checkpoint_every: steps between checkpoints and progress lines.
    jit_compile: compile the step with XLA.
    report: where progress lines go.

  Returns:
    The trained classifier.

  Raises:
    ValueError: the logdir holds another run, or the scenes are table-top
      scenes.
  """
  tf.random.set_seed(seed)
  classifier = count_classifier(data_config)
  logdir_lib.ensure_config(logdir, data_config)
  scenes, _ = datasets.make_scenes(data_config, num_train_images, 0,
                                   _CANVAS_SIDE)
  trainer = count_trainer(classifier, learning_rate, jit_compile)
  counts = scenes.counts.astype(np.int32)
  _run_updates(trainer, logdir, scenes.float_images(),
               lambda indices: tf.constant(counts[indices]), num_steps,
               batch_size, seed, checkpoint_every, report)
  return classifier


def agreement(true_counts: np.ndarray, classifier_counts: np.ndarray,
              air_counts: np.ndarray) -> dict[str, int]:
  """How many of `[K]` scenes both, only one, or neither counts right."""
  classifier_right = classifier_counts == true_counts
  air_right = air_counts == true_counts
  return {
      "both_right": int(np.sum(classifier_right & air_right)),
      "only_classifier_right": int(np.sum(classifier_right & ~air_right)),
      "only_air_right": int(np.sum(~classifier_right & air_right)),
      "both_wrong": int(np.sum(~classifier_right & ~air_right)),
  }


def count_held_out(classifier: downstream.PixelCNN,
                   data_config: datasets.DataConfig, num_images: int,
                   air_counter: Optional[Callable[[np.ndarray],
                                                  np.ndarray]] = None,
                   report: Callable[[str], None] = print) -> dict:
  """Counts the held-out scenes that `experiments/evaluate.py` scores AIR
  on: `datasets.final_evaluation_config`'s, and the size bands and Pyro's
  layout of `datasets.held_out_variants`.

  Args:
    classifier: the trained classifier of `data_config`'s scenes.
    data_config: the scenes it was trained on.
    num_images: held-out scenes of each set.
    air_counter: an AIR model's count of `[K, H, W]` images (e.g. of a run
      trained on the same scenes): its accuracy and its `agreement` with
      the classifier, scene by scene, are reported too.
    report: where each set's figures are printed.

  Returns:
    {set name: {"count_accuracy", "confusion"[, "air_count_accuracy",
    "agreement"]}}; the default held-out scenes are "held_out".
  """
  sets = {"held_out": datasets.final_evaluation_config(data_config)}
  sets.update(datasets.held_out_variants(sets["held_out"]))
  figures = {}
  for name, set_config in sets.items():
    _, held_out = datasets.make_scenes(set_config, 0, num_images,
                                       _CANVAS_SIDE)
    images = held_out.float_images()
    counted = np.argmax(downstream.batched_logits(classifier, images), -1)
    figures[name] = {
        "count_accuracy": float(np.mean(counted == held_out.counts)),
        "confusion": metrics.confusion_matrix(
            held_out.counts, counted, _largest_count(data_config)).tolist()}
    if air_counter is not None:
      air_counted = air_counter(images)
      figures[name]["air_count_accuracy"] = float(
          np.mean(air_counted == held_out.counts))
      figures[name]["agreement"] = agreement(held_out.counts, counted,
                                             air_counted)
    report(f"{name}: " + "; ".join(f"{key} {value}"
                                   for key, value in figures[name].items()))
  return figures
