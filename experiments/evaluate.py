r"""Evaluates a trained AIR on held-out scenes of the data it trained on.

    python experiments/evaluate.py --logdir=runs/air --png=runs/air/examples.png

The held-out scenes are drawn like those the run was tested on during
training (its data.json), from objects no training scene uses, and
independently of the ones training watched; `--test_counts` and
`--max_steps` change the number of objects and of inference steps for the
paper's generalisation tests; `--scene_renderer=mujoco` draws table-top
scenes with MuJoCo instead.

Reports count accuracy, the true x inferred count confusion matrix, the ELBO
and the K-sample importance-weighted bound, and writes a PNG of examples;
for table-top scenes also the identity accuracy and the position and
rotation errors of the objects found (`tabletop.object_figures`).
"""

import dataclasses
import os

from absl import app
from absl import flags

from air_tf import cli
from air_tf import datasets
from air_tf import files
from air_tf import logdir as logdir_lib
from air_tf import metrics
from air_tf import tabletop
from air_tf import visualisation

flags.DEFINE_string("logdir", "runs/air", "Logdir of experiments/train.py.")
flags.DEFINE_list("test_counts", None, "Numbers of objects in the held-out "
                  "scenes; default: those the run was tested on.")
flags.DEFINE_enum("scene_renderer", None, tabletop.SCENE_RENDERERS,
                  "What draws table-top held-out scenes; default: what drew "
                  "the run's (mujoco: the same scenes as MuJoCo pictures "
                  "them, for a model trained on air_tf's renderer).")
flags.DEFINE_integer("max_steps", None, "Inference steps; default: the "
                     "trained number. More lets a model trained on 0-2 "
                     "objects try to find 3.", lower_bound=1)
flags.DEFINE_integer("num_images", 10000, "Held-out images to evaluate.",
                     lower_bound=1)
flags.DEFINE_integer("iw_samples", 100, "K of the importance-weighted "
                     "bound; 0 skips it.", lower_bound=0)
flags.DEFINE_integer("iw_images", 1000, "Images the K-sample bound uses "
                     "(at most --num_images); 0 skips it.", lower_bound=0)
flags.DEFINE_float("z_pres_prior", None, "Prior probability of one more "
                   "object that the bounds are computed under; default: "
                   "the one the run's training reached at its checkpoint.",
                   lower_bound=0, upper_bound=1)
flags.DEFINE_string("png", None, "Writes example reconstructions here; "
                    "default: LOGDIR/examples.png.")
flags.DEFINE_integer("num_examples", 16, "Examples in the PNG; 0: no PNG.",
                     lower_bound=0)
flags.DEFINE_string("json", None, "Also writes the figures to this file.")
flags.DEFINE_bool("variants", True, "Also count held-out multi-MNIST "
                  "scenes of each digit-size band and of Pyro's layout "
                  "(`--num_images` each).")

flags.DEFINE_bool("count_by_elbo", True, "Also count each image by the "
                  "count of highest ELBO (`AIR.count_elbos`): where that "
                  "counts better than q(z_pres), the inference network, "
                  "not the model, gets the count wrong.")

FLAGS = flags.FLAGS


def _counts_by_elbo(evaluator, images, counts, prior) -> dict:
  """With --count_by_elbo, the accuracy and confusion of counting a held-out
  set by the ELBO of each count; else nothing."""
  if not FLAGS.count_by_elbo:
    return {}
  accuracy, confusion = evaluator.count(images, counts, prior, by_elbo=True)
  print(f"  counted by the ELBO of each count: accuracy {accuracy:.4f}; "
        f"confusion {confusion.tolist()}")
  return {"elbo_count_accuracy": accuracy,
          "elbo_confusion": confusion.tolist()}


def main(argv):
  if len(argv) > 1:
    cli.fail(f"unexpected arguments: {argv[1:]}")
  try:
    model, step, checkpoint = logdir_lib.restore_model(FLAGS.logdir,
                                                       FLAGS.max_steps)
    prior = (logdir_lib.final_z_pres_prior(FLAGS.logdir, step)
             if FLAGS.z_pres_prior is None else FLAGS.z_pres_prior)
    data_config = datasets.final_evaluation_config(
        logdir_lib.load_config(FLAGS.logdir, datasets.DataConfig))
    if FLAGS.test_counts is not None:
      data_config = dataclasses.replace(data_config, test_counts=tuple(
          int(count) for count in FLAGS.test_counts))
    if FLAGS.scene_renderer is not None:
      data_config = dataclasses.replace(data_config,
                                        scene_renderer=FLAGS.scene_renderer)
    _, test = datasets.make_scenes(data_config, 0, FLAGS.num_images,
                                   model.config.canvas_size[0])
  except (FileNotFoundError, ValueError) as error:
    cli.fail(error)
  if not 0 < prior < 1:
    cli.fail(f"--z_pres_prior must be in (0, 1), got {prior}.")
  iw_images = min(FLAGS.iw_images, FLAGS.num_images)
  config = model.config
  images = test.float_images()
  evaluator = metrics.Evaluator(model)
  result = evaluator(images, test.counts, prior)
  if FLAGS.iw_samples and iw_images:
    bounds = evaluator(images[:iw_images], test.counts[:iw_images], prior,
                       iw_samples=FLAGS.iw_samples)
    result.iw_bound, result.iw_samples = bounds.iw_bound, FLAGS.iw_samples
  print(f"checkpoint: {checkpoint} (step {step}); prior probability of one "
        f"more object {prior:.3g}")
  print(f"count accuracy: {result.count_accuracy:.4f} on {len(images)} "
        f"images; mean count {result.mean_count:.3f}")
  print("confusion (rows: true count, columns: inferred count):")
  print(result.confusion)
  by_elbo = _counts_by_elbo(evaluator, images, test.counts, prior)
  print(f"ELBO: {result.elbo:.2f} nats/image")
  if result.iw_bound is not None:
    print(f"{result.iw_samples}-sample IW bound: {result.iw_bound:.2f} "
          f"nats/image (first {iw_images} images)")
  objects = (metrics.object_figures(test, result.inferred)
             if isinstance(test, tabletop.TabletopScenes) else {})
  for name, value in objects.items():
    print(f"{name}: {value:.4g}")
  variants = {}
  if FLAGS.variants:
    for name, variant in datasets.held_out_variants(data_config).items():
      _, scenes = datasets.make_scenes(variant, 0, FLAGS.num_images,
                                       config.canvas_size[0])
      variant_images = scenes.float_images()
      accuracy, confusion = evaluator.count(variant_images, scenes.counts,
                                            prior)
      print(f"{name}: count accuracy {accuracy:.4f}; confusion "
            f"{confusion.tolist()}")
      variants[name] = {"count_accuracy": accuracy,
                        "confusion": confusion.tolist(),
                        **_counts_by_elbo(evaluator, variant_images,
                                          scenes.counts, prior)}
  if FLAGS.num_examples:
    shown = {name: value[:FLAGS.num_examples]
             for name, value in result.inferred.items()}
    boxes = model.object_boxes(shown["z_where"], shown["z_what"]).numpy()
    png = FLAGS.png or os.path.join(FLAGS.logdir, "examples.png")
    visualisation.write_png(png, visualisation.comparison_grid(
        images[:FLAGS.num_examples], shown["reconstruction"], boxes,
        shown["z_pres"] > 0))
    print(f"examples: {png}")
  if FLAGS.json:
    files.write_json(FLAGS.json, {
        "step": step, "z_pres_prior": prior,
        "count_accuracy": result.count_accuracy,
        "confusion": result.confusion.tolist(),
        "mean_count": result.mean_count, "elbo": result.elbo,
        "iw_bound": result.iw_bound, "iw_samples": result.iw_samples,
        "iw_images": iw_images if result.iw_bound is not None else 0,
        **by_elbo, **objects,
        "variants": variants})


if __name__ == "__main__":
  app.run(main)
