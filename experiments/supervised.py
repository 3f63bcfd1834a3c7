r"""Trains the supervised baseline of the table-top experiment: AIR's
inference network taught the scene generator's labels (`air_tf.supervised`).

    python experiments/supervised.py --logdir=runs/tabletop_supervised
    python experiments/evaluate.py --logdir=runs/tabletop_supervised \
        --z_pres_prior=0.5 --iw_samples=0

Running it again resumes from the latest checkpoint. The network's flags
are train.py's `--tabletop_*` ones; the scenes' are `--data_seed` and
`--counts`.
"""

from absl import app
from absl import flags

from air_tf import cli
from air_tf import config_flags
from air_tf import datasets
from air_tf import supervised
from air_tf import tabletop_air
from air_tf.tabletop_air import TabletopConfig

flags.DEFINE_string("logdir", "runs/tabletop_supervised", "Checkpoints and "
                    "the run's configurations go here; an existing run is "
                    "resumed.")
flags.DEFINE_integer("num_steps", 5000, "Updates in all.", lower_bound=1)
flags.DEFINE_integer("batch_size", 32, "Images per update.", lower_bound=1)
flags.DEFINE_float("learning_rate", 1e-3, "Adam's step size.",
                   lower_bound=0)
flags.DEFINE_integer("seed", 0, "Initial weights and batch order.",
                     lower_bound=0)
flags.DEFINE_integer("data_seed", 0, "Seed of the scene generator.",
                     lower_bound=0)
flags.DEFINE_list("counts", ["0", "1", "2", "3"], "Numbers of objects of "
                  "the scenes.")
flags.DEFINE_integer("num_train_images", 60000, "Training scenes.",
                     lower_bound=1)
flags.DEFINE_integer("checkpoint_every", 1000, "Steps between checkpoints "
                     "and progress lines.", lower_bound=1)
flags.DEFINE_bool("jit_compile", True, "Compile the step with XLA.")
config_flags.define_flags(
    TabletopConfig, tabletop_air.FLAG_CHOICES,
    prefix=tabletop_air.FLAG_PREFIX)

FLAGS = flags.FLAGS


def main(argv):
  if len(argv) > 1:
    cli.fail(f"unexpected arguments: {argv[1:]}")
  try:
    model_config = config_flags.from_flags(TabletopConfig,
                                           prefix=tabletop_air.FLAG_PREFIX)
    data_config = datasets.DataConfig(
        dataset="tabletop", data_seed=FLAGS.data_seed,
        counts=tuple(int(count) for count in FLAGS.counts))
    supervised.train(FLAGS.logdir, model_config, data_config,
                     FLAGS.num_steps, FLAGS.batch_size, FLAGS.learning_rate,
                     FLAGS.seed, FLAGS.num_train_images,
                     FLAGS.checkpoint_every, FLAGS.jit_compile,
                     report=lambda line: print(line, flush=True))
  except ValueError as error:
    cli.fail(error)


if __name__ == "__main__":
  app.run(main)
