r"""Plots TensorBoard scalars of several runs side by side in one PNG.

    python experiments/compare_runs.py --logdirs=runs/a,runs/b \
        --tags=train/q_pres_step_1,eval/count_accuracy --png=compare.png

For example a failed and a good seed: when the second step's q(z_pres)
sinks, and what the learning signal does then. TensorBoard on the parent
folder shows the same curves.
"""

import os

from absl import app
from absl import flags

from air_tf import cli
from air_tf import logdir as logdir_lib
from air_tf import visualisation

flags.DEFINE_list("logdirs", None, "Runs to compare (train.py logdirs).")
flags.DEFINE_list("names", None, "Their names in the legend; default: the "
                  "logdirs.")
flags.DEFINE_list("tags", ["eval/count_accuracy", "train/mean_count",
                           "train/q_pres_step_1", "train/elbo",
                           "train/kl_what", "train/signal_variance"],
                  "Scalars to plot, one panel each.")
flags.DEFINE_string("png", "compare.png", "The PNG to write.")
flags.mark_flag_as_required("logdirs")

FLAGS = flags.FLAGS


def main(argv):
  if len(argv) > 1:
    cli.fail(f"unexpected arguments: {argv[1:]}")
  names = FLAGS.names or FLAGS.logdirs
  if len(names) != len(FLAGS.logdirs):
    cli.fail(f"--names has {len(names)} names for {len(FLAGS.logdirs)} "
             f"logdirs.")
  runs = {}
  for name, logdir in zip(names, FLAGS.logdirs):
    if not os.path.isdir(logdir):
      cli.fail(f"no run at {logdir}.")
    runs[name] = logdir_lib.read_scalars(logdir)
  missing = [tag for tag in FLAGS.tags
             if not any(tag in scalars for scalars in runs.values())]
  if missing:
    cli.fail(f"no run has the scalars {missing}.")
  visualisation.plot_scalars(runs, FLAGS.tags, FLAGS.png)
  print(f"wrote {FLAGS.png}")


if __name__ == "__main__":
  app.run(main)
