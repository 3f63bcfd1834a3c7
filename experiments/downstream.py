r"""Downstream tasks on a trained AIR's representation against a pixel CNN.

    python experiments/downstream.py --logdir=runs/air

For each task (the sum of the digits; whether they are in ascending order,
left to right) and each number of labelled training scenes, trains an MLP
on the latents AIR infers (z_pres, z_where, z_what per step) and a CNN on
the pixels, with the same optimisation budget, and scores both on held-out
scenes. Writes OUTPUT_DIR/downstream.json, downstream.png (accuracy
against labelled scenes) and TensorBoard scalars (x axis: labelled scenes).
"""

import json
import os
import sys

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# pylint: disable=g-import-not-at-top
from air_tf import cli
from air_tf import datasets
from air_tf import downstream
from air_tf import logdir as logdir_lib
from air_tf import metrics
from air_tf import visualisation

flags.DEFINE_string("logdir", "runs/air", "A multi-MNIST run of train.py.")
flags.DEFINE_string("output_dir", None, "Results go here; default: "
                    "LOGDIR/downstream.")
flags.DEFINE_list("tasks", list(downstream.TASKS), "Tasks to learn.")
flags.DEFINE_list("label_counts", ["10", "100", "1000", "10000", "50000"],
                  "Labelled training scenes of each task (the ascending "
                  "task has only the two-digit third of the scenes).")
flags.DEFINE_integer("num_train", 60000, "Training scenes generated (the "
                     "pool the labelled ones come from).", lower_bound=1)
flags.DEFINE_integer("num_test", 5000, "Held-out scenes scored.", lower_bound=1)
flags.DEFINE_integer("steps", 2000, "Adam steps of every classifier.",
                     lower_bound=1)
flags.DEFINE_integer("seed", 0, "Seed of the classifiers' batches and "
                     "weights.", lower_bound=0)

FLAGS = flags.FLAGS


def main(argv):
  if len(argv) > 1:
    cli.fail(f"unexpected arguments: {argv[1:]}")
  unknown = set(FLAGS.tasks) - set(downstream.TASKS)
  if unknown:
    cli.fail(f"--tasks takes {downstream.TASKS}, not {sorted(unknown)}.")
  label_counts = sorted(int(count) for count in FLAGS.label_counts)
  try:
    model, step, _ = logdir_lib.restore_model(FLAGS.logdir)
    data_config = logdir_lib.load_config(FLAGS.logdir, datasets.DataConfig)
    if data_config.name != "multi_mnist":
      raise ValueError(f"{FLAGS.logdir} was trained on {data_config.name}; "
                       f"the downstream tasks need multi_mnist digits.")
    train, test = datasets.make_scenes(data_config, FLAGS.num_train,
                                       FLAGS.num_test,
                                       model.config.canvas_size[0])
  except (FileNotFoundError, ValueError) as error:
    cli.fail(error)
  evaluator = metrics.Evaluator(model)
  features = {}
  for name, scenes in (("train", train), ("test", test)):
    inferred = evaluator.infer(scenes.float_images(), 0.5)
    features[name] = downstream.air_features(
        inferred["z_pres"], inferred["z_where"], inferred["z_what"])
  output_dir = FLAGS.output_dir or os.path.join(FLAGS.logdir, "downstream")
  writer = tf.summary.create_file_writer(output_dir)
  results, labelled = {}, {}
  for task in FLAGS.tasks:
    train_targets, train_used = downstream.task_targets(train, task)
    test_targets, test_used = downstream.task_targets(test, task)
    classes = downstream.num_classes(task, train.labels.shape[1])
    inputs = {
        "AIR latents + MLP": (features["train"], features["test"],
                              lambda: downstream.feature_classifier(classes)),
        "CNN on pixels": (train.float_images(), test.float_images(),
                          lambda: downstream.PixelCNN(classes)),
    }
    results[task] = {method: [] for method in inputs}
    usable = np.flatnonzero(train_used)
    labelled[task] = sorted({min(count, len(usable)) for count in
                             label_counts})
    for count in labelled[task]:
      chosen = usable[:count]
      for method, (train_inputs, test_inputs, make) in inputs.items():
        tf.random.set_seed(FLAGS.seed)
        accuracy = downstream.fit_and_score(
            make(), train_inputs[chosen], train_targets[chosen],
            test_inputs[test_used], test_targets[test_used], FLAGS.steps,
            FLAGS.seed)
        results[task][method].append(accuracy)
        with writer.as_default():
          tf.summary.scalar(f"{task}/{method}", accuracy, step=count)
        print(f"{task:>9s}  {method:18s}  {count:>6d} labelled scenes: "
              f"test accuracy {accuracy:.2%}", flush=True)
  writer.flush()
  with open(os.path.join(output_dir, "downstream.json"), "w") as f:
    json.dump({"logdir": FLAGS.logdir, "model_step": step,
               "label_counts": labelled, "steps": FLAGS.steps,
               "num_test": FLAGS.num_test, "results": results}, f, indent=2)
  visualisation.plot_label_efficiency(
      results, labelled, os.path.join(output_dir, "downstream.png"))
  print(f"results: {output_dir}/downstream.json, downstream.png")


if __name__ == "__main__":
  app.run(main)
