r"""Evaluates a trained AIR on held-out scenes of the data it trained on.

    python experiments/evaluate.py --logdir=runs/air --png=runs/air/examples.png

The held-out scenes are drawn like those the run was tested on during
training (its data.json), from objects no training scene uses, and
independently of the ones training watched; `--test_counts` and
`--max_steps` change the number of objects and of inference steps for the
paper's generalisation tests; `--digit_sizes=14,28` counts a model trained
on digits of other sizes on the default's; `--scene_renderer=mujoco` draws
table-top scenes with MuJoCo instead.

Reports count accuracy, the true x inferred count confusion matrix, the ELBO
and the K-sample importance-weighted bound, and writes a PNG of examples;
for table-top scenes also the identity accuracy and the position and
rotation errors of the objects found (`tabletop.object_figures`).
"""

from absl import app
from absl import flags

from air_tf import cli
from air_tf import config_flags
from air_tf import evaluation
from air_tf import files
from air_tf import tabletop

flags.DEFINE_string("logdir", "runs/air", "Logdir of experiments/train.py.")
config_flags.define_flags(evaluation.EvaluationConfig,
                          {"scene_renderer": tabletop.SCENE_RENDERERS})
flags.DEFINE_string("json", None, "Also writes the figures to this file.")

FLAGS = flags.FLAGS


def main(argv):
  if len(argv) > 1:
    cli.fail(f"unexpected arguments: {argv[1:]}")
  try:
    final_evaluation = evaluation.FinalEvaluation(
        FLAGS.logdir, config_flags.from_flags(evaluation.EvaluationConfig))
  except (FileNotFoundError, ValueError) as error:
    cli.fail(error)
  figures = final_evaluation()
  if FLAGS.json:
    files.write_json(FLAGS.json, figures)


if __name__ == "__main__":
  app.run(main)
