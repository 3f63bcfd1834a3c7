r"""Table-top AIR's one forward pass against per-image search for the same
scenes' objects (`air_tf.scene_search`): Adam from random starts and
random-walk Metropolis, over every count and identity hypothesis.

    python experiments/search_speed.py --logdir=runs/tabletop \
        --output=runs/tabletop/search_speed

Writes search_speed.json (each method's figures after each budget, AIR's,
and the seconds per image each search needed to match AIR's count
accuracy and position error) and search_speed.png (figures against
wall-clock seconds per image). The searches score hypotheses with the
run's own model (prior and renderer), under the prior probability of one
more object that its training reached.
"""

import os
import time

from absl import app
from absl import flags
import numpy as np

from air_tf import cli
from air_tf import datasets
from air_tf import files
from air_tf import logdir as logdir_lib
from air_tf import metrics
from air_tf import scene_search
from air_tf import tabletop
from air_tf import visualisation

flags.DEFINE_string("logdir", None, "Logdir of a table-top run of "
                    "experiments/train.py.")
flags.DEFINE_string("output", None, "Folder of the results; default: "
                    "LOGDIR/search_speed.")
flags.DEFINE_integer("num_images", 16, "Held-out scenes searched.",
                     lower_bound=1)
flags.DEFINE_list("adam_steps", ["25", "50", "100", "200"], "Adam steps "
                  "after which the best hypothesis is scored.")
flags.DEFINE_list("metropolis_steps", ["100", "300", "1000"], "Metropolis "
                  "steps after which the best state is scored.")
flags.DEFINE_integer("restarts", 2, "Random starts (Adam) or chains "
                     "(Metropolis) per image and hypothesis.", lower_bound=1)
flags.DEFINE_bool("jit_compile", True, "Compile the searches with XLA.")
flags.mark_flag_as_required("logdir")

FLAGS = flags.FLAGS
_KEYS = ("count_accuracy", "identity_accuracy", "median_position_error",
         "median_rotation_error_deg")


def _figures(scenes, presence, poses, identities, seconds) -> dict:
  return {"count_accuracy": float(np.mean(presence.sum(1) == scenes.counts)),
          **tabletop.object_figures(scenes, presence, poses, identities),
          "seconds_per_image": seconds / len(scenes)}


def _matching_air(points: list[dict], air: dict):
  """Seconds per image of the first point at AIR's count accuracy and
  position error or better, or None."""
  for point in points:
    if (point["count_accuracy"] >= air["count_accuracy"] and
        point["median_position_error"] <= air["median_position_error"]):
      return point["seconds_per_image"]
  return None


def main(argv):
  if len(argv) > 1:
    cli.fail(f"unexpected arguments: {argv[1:]}")
  try:
    model, step, _ = logdir_lib.restore_model(FLAGS.logdir)
    prior = logdir_lib.final_z_pres_prior(FLAGS.logdir, step)
    data_config = datasets.final_evaluation_config(
        logdir_lib.load_config(FLAGS.logdir, datasets.DataConfig))
    if data_config.dataset != "tabletop":
      raise ValueError(f"{FLAGS.logdir} trained on {data_config.dataset}; "
                       f"the search needs a table-top run.")
    _, scenes = datasets.make_scenes(data_config, 0, FLAGS.num_images,
                                     model.config.image_size)
    budgets = {name: [int(value) for value in values] for name, values in (
        ("adam", FLAGS.adam_steps), ("metropolis", FLAGS.metropolis_steps))}
  except (FileNotFoundError, ValueError) as error:
    cli.fail(error)
  output = FLAGS.output or os.path.join(FLAGS.logdir, "search_speed")
  os.makedirs(output, exist_ok=True)
  images = scenes.float_images()
  evaluator = metrics.Evaluator(model)
  evaluator.infer(images, prior)  # Traced once, not timed.
  start = time.time()
  inferred = evaluator.infer(images, prior)
  air = _figures(scenes, inferred["z_pres"] > 0, inferred["z_where"],
                 inferred["z_what"].argmax(-1), time.time() - start)
  print(f"AIR (step {step}): {air}", flush=True)
  searches = {
      "adam": lambda: scene_search.adam_search(
          model, images, prior, budgets["adam"], restarts=FLAGS.restarts,
          jit_compile=FLAGS.jit_compile),
      "metropolis": lambda: scene_search.metropolis_search(
          model, images, prior, budgets["metropolis"],
          chains=FLAGS.restarts, jit_compile=FLAGS.jit_compile)}
  results = {"air": [air]}
  for name, search in searches.items():
    results[name] = []
    for budget, found in zip(budgets[name], search()):
      point = {"steps": budget, **_figures(scenes, found.presence,
                                           found.poses, found.identities,
                                           found.seconds)}
      print(f"{name} after {budget} steps: {point}", flush=True)
      results[name].append(point)
  matching = {name: _matching_air(results[name], air) for name in searches}
  for name, seconds in matching.items():
    print(f"{name} reaches AIR's count accuracy and position error: "
          + ("not within the budgets" if seconds is None else
             f"after {seconds:.2f} s per image, "
             f"{seconds / air['seconds_per_image']:.0f}x AIR's time"))
  files.write_json(os.path.join(output, "search_speed.json"), {
      "logdir": FLAGS.logdir, "step": step, "num_images": len(scenes),
      "restarts": FLAGS.restarts, "methods": results,
      "seconds_per_image_to_match_air": matching})
  visualisation.plot_error_against_time(
      results, _KEYS, os.path.join(output, "search_speed.png"))
  print(f"results: {output}")


if __name__ == "__main__":
  app.run(main)
