r"""Downstream tasks on a trained AIR's representation against a pixel CNN.

    python experiments/downstream.py --logdirs=runs/air

For each task (the sum of the digits, on every scene and on two-digit
scenes; whether two digits are in ascending order, left to right) and each
number of labelled training scenes, trains an MLP on the latents each AIR
run infers (z_pres, z_where, z_what per step) and a CNN on the pixels, each
to convergence (early stopping on a validation fifth of the labelled
scenes, learning rate chosen on it; `downstream.fit_and_score`), and
scores them on held-out scenes. Writes OUTPUT_DIR/downstream.json,
downstream.png (accuracy against labelled scenes) and TensorBoard scalars
(x axis: labelled scenes).
"""

import os

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from air_tf import cli
from air_tf import datasets
from air_tf import downstream
from air_tf import files
from air_tf import logdir as logdir_lib
from air_tf import metrics
from air_tf import visualisation

flags.DEFINE_list("logdirs", ["runs/air"], "Multi-MNIST runs of train.py "
                  "(several seeds of one model), all on the same scenes.")
flags.DEFINE_string("output_dir", None, "Results go here; default: "
                    "FIRST_LOGDIR/downstream.")
flags.DEFINE_list("tasks", list(downstream.TASKS), "Tasks to learn.")
flags.DEFINE_list("label_counts", ["10", "100", "1000", "10000", "50000"],
                  "Labelled training scenes of each task, a fifth of them "
                  "for validation (tasks on two-digit scenes have only that "
                  "third of the scenes).")
flags.DEFINE_integer("num_train", 60000, "Training scenes generated (the "
                     "pool the labelled ones come from).", lower_bound=2)
flags.DEFINE_integer("num_test", 5000, "Held-out scenes scored.",
                     lower_bound=1)
flags.DEFINE_list("learning_rates", ["3e-4", "1e-3", "3e-3"], "Adam step "
                  "sizes; each fit keeps the one with the best validation "
                  "accuracy (ties: loss).")
flags.DEFINE_integer("max_steps", 20000, "Most Adam steps of a fit.",
                     lower_bound=1)
flags.DEFINE_integer("eval_every", 100, "Steps between validation checks.",
                     lower_bound=1)
flags.DEFINE_integer("patience", 10, "Stop after this many validation "
                     "checks without improvement.", lower_bound=1)
flags.DEFINE_integer("seed", 0, "Seed of the classifiers' splits, batches "
                     "and weights.", lower_bound=0)

FLAGS = flags.FLAGS
_CNN = "CNN on pixels"


def _air_features(logdirs, scene_sets):
  """run name -> split -> AIR features of the scenes; checks that every run
  trained on the same multi-MNIST scenes."""
  features, data_configs = {}, set()
  for logdir in logdirs:
    model, _, _ = logdir_lib.restore_model(logdir)
    data_configs.add(logdir_lib.load_config(logdir, datasets.DataConfig))
    evaluator = metrics.Evaluator(model)
    features[f"AIR latents + MLP ({os.path.basename(logdir.rstrip('/'))})"] = {
        split: downstream.air_features(*(
            inferred[name] for name in ("z_pres", "z_where", "z_what")))
        for split, scenes in scene_sets.items()
        for inferred in [evaluator.infer(scenes.float_images(), 0.5)]}
  if len(data_configs) > 1:
    raise ValueError(f"--logdirs were trained on different scenes: "
                     f"{sorted(map(str, data_configs))}.")
  return features


def main(argv):
  if len(argv) > 1:
    cli.fail(f"unexpected arguments: {argv[1:]}")
  unknown = set(FLAGS.tasks) - set(downstream.TASKS)
  if unknown:
    cli.fail(f"--tasks takes {downstream.TASKS}, not {sorted(unknown)}.")
  try:
    label_counts = sorted(int(count) for count in FLAGS.label_counts)
    learning_rates = [float(rate) for rate in FLAGS.learning_rates]
  except ValueError:
    cli.fail("--label_counts takes integers and --learning_rates numbers.")
  if not label_counts or label_counts[0] < 2 or min(learning_rates) <= 0:
    cli.fail(f"--label_counts must be >= 2 (one validates) and "
             f"--learning_rates > 0; got {label_counts}, {learning_rates}.")
  try:
    data_config = logdir_lib.load_config(FLAGS.logdirs[0],
                                         datasets.DataConfig)
    if data_config.dataset != "multi_mnist":
      raise ValueError(f"{FLAGS.logdirs[0]} was trained on "
                       f"{data_config.dataset}; the downstream tasks need "
                       f"multi_mnist digits.")
    canvas = logdir_lib.load_config(FLAGS.logdirs[0]).canvas_size[0]
    train, test = datasets.make_scenes(data_config, FLAGS.num_train,
                                       FLAGS.num_test, canvas)
    air = _air_features(FLAGS.logdirs, {"train": train, "test": test})
  except (FileNotFoundError, ValueError) as error:
    cli.fail(error)
  output_dir = FLAGS.output_dir or os.path.join(FLAGS.logdirs[0],
                                                "downstream")
  writer = tf.summary.create_file_writer(output_dir)
  results, fits, labelled = {}, {}, {}
  for task in FLAGS.tasks:
    train_targets, train_used = downstream.task_targets(train, task)
    test_targets, test_used = downstream.task_targets(test, task)
    classes = downstream.num_classes(task, train.labels.shape[1])
    inputs = {
        _CNN: (train.float_images(), test.float_images(),
               lambda: downstream.PixelCNN(classes)),
        **{name: (split["train"], split["test"],
                  lambda: downstream.feature_classifier(classes))
           for name, split in air.items()}}
    results[task] = {method: [] for method in inputs}
    fits[task] = {method: [] for method in inputs}
    usable = np.flatnonzero(train_used)
    labelled[task] = sorted({min(count, len(usable)) for count in
                             label_counts})
    for count in labelled[task]:
      chosen = usable[:count]
      for method, (train_inputs, test_inputs, make) in inputs.items():
        fit = downstream.fit_and_score(
            make, train_inputs[chosen], train_targets[chosen],
            test_inputs[test_used], test_targets[test_used], FLAGS.seed,
            learning_rates, eval_every=FLAGS.eval_every,
            patience=FLAGS.patience, max_steps=FLAGS.max_steps)
        results[task][method].append(fit.test_accuracy)
        fits[task][method].append(fit._asdict())
        with writer.as_default():
          tf.summary.scalar(f"{task}/{method}", fit.test_accuracy, step=count)
        print(f"{task:>10s}  {method:30s}  {count:>6d} labelled scenes: "
              f"test accuracy {fit.test_accuracy:.2%} (learning rate "
              f"{fit.learning_rate:g}, {fit.steps} steps)", flush=True)
  writer.flush()
  files.write_json(os.path.join(output_dir, "downstream.json"), {
      "logdirs": FLAGS.logdirs, "label_counts": labelled,
      "num_test": FLAGS.num_test, "learning_rates": learning_rates,
      "results": results, "fits": fits})
  visualisation.plot_label_efficiency(
      results, labelled, os.path.join(output_dir, "downstream.png"))
  print(f"results: {output_dir}/downstream.json, downstream.png")


if __name__ == "__main__":
  app.run(main)
