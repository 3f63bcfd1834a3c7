"""The supervised baseline of the table-top experiment: AIR's own inference
network trained on the scene generator's labels instead of by the ELBO.

Step i is taught the i-th object from the left (the order a person would
label them in): z_pres_i by cross-entropy up to one step past the count,
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
"""

from typing import Callable, NamedTuple

import numpy as np
import sonnet as snt
import tensorflow as tf

from air_tf import batches
from air_tf import datasets
from air_tf import logdir as logdir_lib
from air_tf import models
from air_tf import shapes
from air_tf import tabletop
from air_tf import training
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
  period / 2)."""
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
  """Adam on `supervised_loss` for the inference network of a model."""

  def __init__(self, model: TabletopAIR, learning_rate: float,
               jit_compile: bool = True):
    """Constructs the trainer.

    Args:
      model: its inference network is trained (nothing else has weights).
      learning_rate: Adam's step size.
      jit_compile: compile the step with XLA.
    """
    super().__init__(name="supervised_trainer")
    self.model = model
    model.build()  # The baseline too, untrained: a checkpoint like AIR's.
    self.optimizer = snt.optimizers.Adam(learning_rate)
    training.make_slots(self.optimizer, model.model_variables)
    self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    self._compiled_step = tf.function(self._update, jit_compile=jit_compile,
                                      autograph=False)

  def _update(self, images: tf.Tensor,
              targets: Labels) -> dict[str, tf.Tensor]:
    variables = self.model.model_variables
    with tf.GradientTape() as tape:
      losses = supervised_loss(self.model, images, targets)
    self.optimizer.apply(tape.gradient(losses["loss"], variables), variables)
    self.step.assign_add(1)
    return losses

  def train_step(self, images: tf.Tensor,
                 targets: Labels) -> dict[str, tf.Tensor]:
    """One update on `[B, H, W, 3]` images; returns the losses."""
    return self._compiled_step(images, targets)

  def checkpoint(self) -> tf.train.Checkpoint:
    """The model (read as AIR's by `logdir.restore_model`), the optimiser
    and the step."""
    return tf.train.Checkpoint(model=self.model, optimizer=self.optimizer,
                               step=self.step)


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
  trainer = SupervisedTrainer(TabletopAIR(model_config), learning_rate,
                              jit_compile)
  manager = logdir_lib.checkpoint_manager(trainer.checkpoint(), logdir)
  resume_from = logdir_lib.latest_checkpoint(logdir)
  if resume_from:
    trainer.checkpoint().restore(resume_from).assert_existing_objects_matched()
  start = int(trainer.step)
  logdir_lib.record_launch(logdir, start)
  images = scenes.float_images()
  for step, indices in zip(range(start + 1, num_steps + 1),
                           batches.batch_indices(len(scenes), batch_size,
                                                 seed, start)):
    losses = trainer.train_step(tf.constant(images[indices]),
                                labels(scenes, indices))
    if step % checkpoint_every == 0 or step == num_steps:
      manager.save(checkpoint_number=step)
      report(f"step {step:>7d}/{num_steps}  " + "  ".join(
          f"{name} {float(value):.4f}" for name, value in losses.items()))
