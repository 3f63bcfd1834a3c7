r"""Trains a count classifier on the scenes AIR trains on and counts the
held-out scenes AIR is scored on: how well counts can be read from these
pictures when they are taught (`air_tf.supervised`; the network is the
downstream tasks' CNN on pixels).

    python experiments/count_classifier.py --logdir=runs/count_classifier
    python experiments/count_classifier.py --logdir=runs/count_classifier \
        --air_logdir=runs/air --json=runs/count_classifier/figures.json

The scenes' flags are train.py's (`--data_seed`, `--layout`, ...); with
`--air_logdir` an AIR run counts the same held-out scenes, and the scenes
each of the two counts right are compared. Running it again resumes from
the latest checkpoint.
"""

from absl import app
from absl import flags

from air_tf import cli
from air_tf import config_flags
from air_tf import datasets
from air_tf import files
from air_tf import logdir as logdir_lib
from air_tf import metrics
from air_tf import scenes
from air_tf import supervised

flags.DEFINE_string("logdir", "runs/count_classifier", "Checkpoints and "
                    "the run's configurations go here; an existing run is "
                    "resumed.")
flags.DEFINE_integer("num_steps", 10000, "Updates in all.", lower_bound=1)
flags.DEFINE_integer("batch_size", 64, "Images per update.", lower_bound=1)
flags.DEFINE_float("learning_rate", 1e-3, "Adam's step size.",
                   lower_bound=0)
flags.DEFINE_integer("seed", 0, "Initial weights and batch order.",
                     lower_bound=0)
flags.DEFINE_integer("num_train_images", 60000, "Training scenes.",
                     lower_bound=1)
flags.DEFINE_integer("checkpoint_every", 1000, "Steps between checkpoints "
                     "and progress lines.", lower_bound=1)
flags.DEFINE_bool("jit_compile", True, "Compile the step with XLA.")
flags.DEFINE_integer("num_images", 10000, "Held-out scenes of each set.",
                     lower_bound=1)
flags.DEFINE_string("air_logdir", None, "An AIR run (experiments/train.py) "
                    "that counts the same held-out scenes.")
flags.DEFINE_string("json", None, "Also writes the figures to this file.")
config_flags.define_flags(datasets.DataConfig,
                          {"dataset": datasets.DATASETS,
                           "layout": scenes.LAYOUTS})

FLAGS = flags.FLAGS


def _air_counter(logdir):
  """The count of `[K, H, W]` images by q(z_pres) of the run in `logdir`,
  at the count prior its training reached."""
  model, step, _ = logdir_lib.restore_model(logdir)
  z_pres_prob = logdir_lib.final_z_pres_prior(logdir, step)
  evaluator = metrics.Evaluator(model)
  return lambda images: evaluator.infer(images, z_pres_prob)["count"]


def main(argv):
  if len(argv) > 1:
    cli.fail(f"unexpected arguments: {argv[1:]}")
  report = lambda line: print(line, flush=True)
  try:
    data_config = config_flags.from_flags(datasets.DataConfig)
    air_counter = (_air_counter(FLAGS.air_logdir) if FLAGS.air_logdir
                   else None)
    classifier = supervised.train_count_classifier(
        FLAGS.logdir, data_config, FLAGS.num_steps, FLAGS.batch_size,
        FLAGS.learning_rate, FLAGS.seed, FLAGS.num_train_images,
        FLAGS.checkpoint_every, FLAGS.jit_compile, report=report)
    figures = supervised.count_held_out(classifier, data_config,
                                        FLAGS.num_images, air_counter,
                                        report=report)
  except (FileNotFoundError, ValueError) as error:
    cli.fail(error)
  if FLAGS.json:
    files.write_json(FLAGS.json, figures)


if __name__ == "__main__":
  app.run(main)
