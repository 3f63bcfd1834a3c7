r"""Exports the newest checkpoint of a training run as a SavedModel.

    python experiments/export.py --logdir=runs/air --export_dir=runs/air/export

The SavedModel loads with plain TensorFlow (no air_tf):

    model = tf.saved_model.load("runs/air/export")
    out = model.signatures["serving_default"](images=images)  # [B, 50, 50]

A table-top run's SavedModel takes colour images (`[B, 64, 64, 3]` by
default) and answers each object's identity and pose as well.

See air_tf/export.py for its signatures.
"""

from absl import app
from absl import flags

from air_tf import cli
from air_tf import export
from air_tf import logdir as logdir_lib

flags.DEFINE_string("logdir", None, "Logdir of experiments/train.py.")
flags.DEFINE_string("export_dir", None, "Where to write the SavedModel "
                    "(replaced if it exists).")
flags.DEFINE_float("z_pres_prior", None, "Prior probability of one more "
                   "object that the `sample` signature draws scenes with; "
                   "default: the one the run's training reached at its "
                   "checkpoint.", lower_bound=0, upper_bound=1)
flags.DEFINE_float("count_threshold", None, "q(z_pres) above which the "
                   "`infer` signature counts an object (2D models); "
                   "default: the run's (AIRConfig.count_threshold).")
flags.DEFINE_bool("count_by_flips", None, "Whether the `infer` signature "
                  "counts by a vote over each image's mirror images (2D "
                  "models); default: as the run does "
                  "(AIRConfig.count_by_flips).")
flags.DEFINE_bool("count_by_zooms", None, "Whether that vote also counts "
                  "each image zoomed out and in, at three times the work "
                  "(2D models); default: as the run does "
                  "(AIRConfig.count_by_zooms).")
flags.mark_flags_as_required(["logdir", "export_dir"])

FLAGS = flags.FLAGS


def main(argv):
  if len(argv) > 1:
    cli.fail(f"unexpected arguments: {argv[1:]}")
  try:
    model, step, checkpoint = logdir_lib.restore_model(
        FLAGS.logdir, count_threshold=FLAGS.count_threshold,
        count_by_flips=FLAGS.count_by_flips,
        count_by_zooms=FLAGS.count_by_zooms)
    prior = (logdir_lib.final_z_pres_prior(FLAGS.logdir, step)
             if FLAGS.z_pres_prior is None else FLAGS.z_pres_prior)
  except (FileNotFoundError, ValueError) as error:
    cli.fail(error)
  if not 0 < prior < 1:
    cli.fail(f"--z_pres_prior must be in (0, 1), got {prior}.")
  try:
    export.export(model, prior, FLAGS.export_dir)
  except ValueError as error:
    cli.fail(error)
  print(f"exported {checkpoint} (step {step}, prior probability of one "
        f"more object {prior:.3g}) to {FLAGS.export_dir}")


if __name__ == "__main__":
  app.run(main)
