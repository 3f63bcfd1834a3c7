"""A training run: steps, logs, held-out evaluations, checkpoints, and a
clean stop on a signal or on diverging updates. `experiments/train.py` is
its command line."""

import dataclasses
import signal
import time
from typing import Callable, Optional

from absl import logging
import numpy as np
import tensorflow as tf

from air_tf import batches
from air_tf import datasets
from air_tf import distribution
from air_tf import logdir as logdir_lib
from air_tf import metrics
from air_tf import models
from air_tf import scenes
from air_tf import tabletop
from air_tf import visualisation
from air_tf.training import TrainConfig, Trainer


@dataclasses.dataclass(frozen=True)
class Schedule:
  """When a run logs, evaluates, checkpoints and stops. None of it changes
  what the run computes, so it is not recorded with the run.

  Attributes:
    num_steps: training steps in total. 20,000 for the two-layer
      encoder and decoder (`AIRConfig.encoder_hidden`): at 10,000 they
      split far more full-size digits (two seeds: 28 px 97.2% against
      98.5%, all digits 99.09 and 99.14% against 99.23%; docs/RESULTS.md).
    log_every: steps between progress lines and training scalars.
    eval_every: steps between held-out evaluations.
    checkpoint_every: steps between checkpoints.
    max_nonfinite_in_a_row: stop after this many updates in a row were
      skipped for a NaN/Inf loss or gradient.
  """
  num_steps: int = 20000
  log_every: int = 100
  eval_every: int = 1000
  checkpoint_every: int = 1000
  max_nonfinite_in_a_row: int = 100

  def __post_init__(self):
    for field in dataclasses.fields(self):
      if getattr(self, field.name) < 1:
        raise ValueError(f"{field.name} must be >= 1, got "
                         f"{getattr(self, field.name)}.")


class RunError(Exception):
  """The run cannot start as asked: its configurations differ from the
  logdir's, or its data cannot be made. The message says which."""


class Diverged(RuntimeError):
  """Too many updates in a row had a NaN/Inf loss or gradient."""


class Interrupted(Exception):
  """SIGTERM or SIGINT arrived; the run was checkpointed and stopped."""

  def __init__(self, received: signal.Signals, message: str):
    super().__init__(message)
    self.signal = received


class _StopSignals:
  """Turns SIGTERM and SIGINT into a request to checkpoint and stop."""

  def __init__(self):
    self.received = None
    for number in (signal.SIGTERM, signal.SIGINT):
      signal.signal(number, self._handle)

  def _handle(self, number, unused_frame):
    self.received = signal.Signals(number)


def _log_evaluation(evaluator: metrics.Evaluator, model: models.Model,
                    eval_set: scenes.Scenes | tabletop.TabletopScenes,
                    prior_prob: float, step: int,
                    logdir: str) -> metrics.Evaluation:
  """Evaluates the held-out scenes; writes scalars, pictures and a record
  (with the table-top objects' identity and pose errors)."""
  images = eval_set.float_images()
  result = evaluator(images, eval_set.counts, prior_prob, seed=step)
  shown = {name: value[:16] for name, value in result.inferred.items()}
  boxes = model.object_boxes(shown["z_where"], shown["z_what"]).numpy()
  picture = visualisation.comparison_grid(images[:16],
                                          shown["reconstruction"], boxes,
                                          shown["z_pres"] > 0)
  objects = (metrics.object_figures(eval_set, result.inferred)
             if isinstance(eval_set, tabletop.TabletopScenes) else {})
  for name, value in (("count_accuracy", result.count_accuracy),
                      ("mean_count", result.mean_count),
                      ("elbo", result.elbo), *objects.items()):
    tf.summary.scalar(f"eval/{name}", value, step=step)
  tf.summary.image("eval/reconstructions", picture[np.newaxis], step=step)
  tf.summary.image("eval/confusion", visualisation.confusion_image(
      result.confusion)[np.newaxis], step=step)
  logdir_lib.append_eval_record(logdir, {
      "step": step, "time": time.time(),
      "count_accuracy": result.count_accuracy,
      "mean_count": result.mean_count, "elbo": result.elbo,
      "confusion": result.confusion.tolist(), **objects})
  return result


def train(logdir: str, model_config: models.ModelConfig,
          train_config: TrainConfig,
          data_config: datasets.DataConfig, schedule: Schedule,
          replace_training_config: bool = False,
          report: Callable[[str], None] = print,
          strategy: Optional[tf.distribute.Strategy] = None
          ) -> Optional[int]:
  """Trains (or resumes) the run in `logdir` up to `schedule.num_steps`.

  Every random draw of step t depends on (seed, t) only, so a run resumed
  from its latest checkpoint continues as the uninterrupted one would.

  Args:
    logdir: the run's folder (see `air_tf.logdir`).
    model_config, train_config, data_config: the run (the model a 2D
      `AIRConfig` or, for the tabletop dataset, a `TabletopConfig`); a
      logdir that recorded others is refused (`replace_training_config`
      accepts another training configuration and records it).
    schedule: when to log, evaluate, checkpoint and stop.
    replace_training_config: see above.
    report: where progress lines go.
    strategy: the replicas that share each step's batch
      (`air_tf.distribution`); None: this process's default device. Only
      the chief process writes to `logdir` and reports; every process
      resumes from its latest checkpoint.

  Returns:
    The last step trained, or None if the run had already finished.

  Raises:
    RunError: the configurations do not match the logdir's, or the data
      cannot be made.
    Diverged: too many non-finite updates in a row (the last checkpoint is
      intact).
    Interrupted: SIGTERM or SIGINT; the step reached was checkpointed.
  """
  chief = distribution.is_chief(strategy)
  try:
    distribution.check_batch(strategy, train_config.batch_size)
    models.check_dataset(model_config, data_config.dataset)
    if chief:
      logdir_lib.ensure_config(logdir, model_config)
      logdir_lib.ensure_config(logdir, train_config,
                               replace=replace_training_config)
    train_set, eval_set = datasets.make_scenes(
        data_config, train_config.num_train_images,
        train_config.num_eval_images, model_config.canvas_size[0])
    if chief:
      logdir_lib.ensure_config(logdir, data_config)
  except (ValueError, FileNotFoundError) as error:
    raise RunError(str(error)) from error
  if not chief:
    report = lambda line: None
  logging.info("Devices: %s",
               [device.name for device in tf.config.list_logical_devices()])
  tf.random.set_seed(train_config.seed)  # Initial weights.
  model = models.make_model(model_config)
  trainer = Trainer(model, train_config, strategy)
  manager = logdir_lib.checkpoint_manager(trainer.checkpoint(), logdir)
  resume_from = logdir_lib.latest_checkpoint(logdir)
  if resume_from:
    trainer.restore(resume_from)
    logging.info("Resumed from %s at step %d", resume_from, int(trainer.step))
  start_step = int(trainer.step)
  if chief:
    logdir_lib.record_launch(logdir, start_step)
  if start_step >= schedule.num_steps:
    logging.info("Already trained %d of %d steps.", start_step,
                 schedule.num_steps)
    return None
  batches_of_images = batches.training_batches(
      train_set.images, train_config.batch_size, seed=train_config.seed,
      start_step=start_step)
  evaluator = metrics.Evaluator(model)
  writer = (tf.summary.create_file_writer(logdir) if chief else
            tf.summary.create_noop_writer())
  accuracy_text = "   n/a"  # Until the first held-out evaluation.
  window_start, window_steps = time.time(), 0
  stop_signals = _StopSignals()
  with writer.as_default():
    for images in batches_of_images:
      logs = trainer.train_step(distribution.split_batch(strategy, images))
      step = int(trainer.step)
      if int(trainer.nonfinite_in_a_row) >= schedule.max_nonfinite_in_a_row:
        kept = (f"the last checkpoint, {manager.latest_checkpoint}, is "
                f"intact" if manager.latest_checkpoint else
                "no checkpoint was written")
        raise Diverged(f"{int(trainer.nonfinite_in_a_row)} updates in a row "
                       f"had a NaN/Inf loss or gradient (step {step}); "
                       f"stopping: {kept}.")
      window_steps += 1
      if step % schedule.log_every == 0 or step == schedule.num_steps:
        steps_per_second = window_steps / (time.time() - window_start)
        window_start, window_steps = time.time(), 0
        for name, value in logs.items():
          tf.summary.scalar(f"train/{name}", value, step=step)
        tf.summary.scalar("train/steps_per_second", steps_per_second,
                          step=step)
        minutes_left = (schedule.num_steps - step) / steps_per_second / 60
        report(f"step {step:>7d}/{schedule.num_steps}  elbo "
               f"{float(logs['elbo']):9.2f}  held-out count acc "
               f"{accuracy_text}  {steps_per_second:5.1f} steps/s  "
               f"{minutes_left:6.1f} min left")
      if chief and (step % schedule.eval_every == 0 or
                    step == schedule.num_steps):
        result = _log_evaluation(evaluator, model, eval_set,
                                 float(logs["z_pres_prior"]), step, logdir)
        accuracy_text = f"{result.count_accuracy:6.2%}"
        report(f"step {step:>7d}  held-out count accuracy "
               f"{result.count_accuracy:.2%}  mean count "
               f"{result.mean_count:.2f}  elbo {result.elbo:.1f}")
      if chief and (step % schedule.checkpoint_every == 0 or
                    step == schedule.num_steps or stop_signals.received):
        manager.save(checkpoint_number=step)
      if stop_signals.received:
        writer.flush()
        saved = (f"saved step {step} to {manager.latest_checkpoint}" if chief
                 else f"stopped at step {step} (the chief checkpoints)")
        raise Interrupted(stop_signals.received,
                          f"{stop_signals.received.name}: {saved}; run the "
                          f"same command to resume.")
      if step >= schedule.num_steps:
        break
  writer.flush()
  return step
