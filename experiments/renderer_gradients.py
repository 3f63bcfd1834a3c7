r"""The table-top renderer's two kinds of gradient, side by side.

    python experiments/renderer_gradients.py --output=runs/renderer_gradients

On held-out table-top scenes, with each scene's objects known:

1. Gradient error: the gradient of the squared pixel error at perturbed
   poses, by autodiff and by the renderer's finite differences (the
   paper's way), each against central differences of the whole loss with a
   fine step (`--reference_step`); relative error, median over scenes.
2. Cost: seconds per gradient of a batch, median of timed repeats after
   compilation.
3. What each reaches: per-image pose fitting (Adam through the renderer,
   `--restarts` random starts, `--fit_steps` steps) with either gradient;
   median position and rotation errors and wall-clock time.

Writes OUTPUT/renderer_gradients.json and prints a table. A measurement, not
a test.
"""

import os
import time

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from air_tf import files
from air_tf import pose_fitting
from air_tf import shapes
from air_tf import tabletop
from air_tf.tabletop_renderer import TabletopRenderer

flags.DEFINE_string("output", "runs/renderer_gradients", "Results go here.")
flags.DEFINE_integer("scenes", 32, "Held-out scenes.", lower_bound=1)
flags.DEFINE_integer("seed", 1, "Scene seed (training scenes use 0).",
                     lower_bound=0)
flags.DEFINE_float("perturbation", 0.05, "Std of the pose perturbation of the "
                   "gradient check (world units and radians).", lower_bound=0)
flags.DEFINE_float("reference_step", 1e-3, "Step of the reference central "
                   "differences.", lower_bound=0)
flags.DEFINE_float("finite_difference_step", 1e-2, "The renderer's own "
                   "finite-difference step.", lower_bound=0)
flags.DEFINE_integer("restarts", 4, "Random starts per image of the fit.",
                     lower_bound=1)
flags.DEFINE_integer("fit_steps", 200, "Adam steps per fit.", lower_bound=1)
flags.DEFINE_integer("timing_repeats", 10, "Timed gradients per kind.",
                     lower_bound=1)

FLAGS = flags.FLAGS
_EDGE_SOFTNESS = 0.01


def _gradient_function(renderer, targets, presence, one_hot):
  @tf.function(jit_compile=True, autograph=False)
  def gradient(poses):
    with tf.GradientTape() as tape:
      tape.watch(poses)
      error = tf.reduce_sum(tf.square(
          renderer(presence, one_hot, poses) - targets), axis=[1, 2, 3])
      total = tf.reduce_sum(error)
    return error, tape.gradient(total, poses)
  return gradient


def main(argv):
  del argv
  scenes = tabletop.tabletop_scenes(FLAGS.scenes, FLAGS.seed, counts=(1, 2, 3))
  targets = tf.constant(scenes.float_images())
  presence = tf.constant((scenes.identities >= 0).astype(np.float32))
  one_hot = tf.one_hot(np.maximum(scenes.identities, 0), shapes.NUM_SHAPES)
  rng = np.random.default_rng(FLAGS.seed)
  poses = tf.constant(scenes.poses + FLAGS.perturbation * rng.normal(
      size=scenes.poses.shape).astype(np.float32))
  renderers = {
      "autodiff": TabletopRenderer(edge_softness=_EDGE_SOFTNESS),
      "finite_differences": TabletopRenderer(
          edge_softness=_EDGE_SOFTNESS, gradients="finite_differences",
          finite_difference_step=FLAGS.finite_difference_step)}
  gradients = {kind: _gradient_function(renderer, targets, presence, one_hot)
               for kind, renderer in renderers.items()}

  # The reference: central differences of each scene's own error.
  errors = tf.function(lambda p: gradients["autodiff"](p)[0], autograph=False,
                       jit_compile=True)
  reference = np.zeros(scenes.poses.shape, np.float32)
  step = FLAGS.reference_step
  for n in range(scenes.poses.shape[1]):
    for j in range(3):
      offset = np.zeros(scenes.poses.shape, np.float32)
      offset[:, n, j] = step
      reference[:, n, j] = (errors(poses + offset) -
                            errors(poses - offset)).numpy() / (2 * step)

  results = {"scenes": FLAGS.scenes, "seed": FLAGS.seed,
             "edge_softness": _EDGE_SOFTNESS,
             "finite_difference_step": FLAGS.finite_difference_step,
             "reference_step": step}
  present = (scenes.identities >= 0)[..., np.newaxis]
  for kind, gradient in gradients.items():
    values = gradient(poses)[1].numpy() * present
    relative = (np.linalg.norm((values - reference).reshape(FLAGS.scenes, -1),
                               axis=1) /
                np.linalg.norm(reference.reshape(FLAGS.scenes, -1), axis=1))
    times = []
    for _ in range(FLAGS.timing_repeats):
      start = time.time()
      gradient(poses)[1].numpy()
      times.append(time.time() - start)
    starts = pose_fitting.random_poses(
        (FLAGS.restarts, *scenes.poses.shape[:2]), FLAGS.seed + 1)
    fit = pose_fitting.fit_poses(
        renderers[kind], scenes.float_images(), presence.numpy(),
        scenes.identities, starts, steps=FLAGS.fit_steps)
    position, rotation = pose_fitting.pose_errors(fit.poses, scenes)
    results[kind] = {
        "median_relative_gradient_error": float(np.median(relative)),
        "seconds_per_gradient_of_batch": float(np.median(times)),
        "fit_median_position_error": float(np.median(position)),
        "fit_median_cube_rotation_error_degrees": float(np.degrees(
            np.nanmedian(rotation))),
        "fit_seconds_per_image": fit.seconds / FLAGS.scenes,
    }
    print(f"{kind:>18}: gradient error {np.median(relative):.3f} (median "
          f"relative), {np.median(times) * 1000:.0f} ms per gradient of "
          f"{FLAGS.scenes} scenes; fit: position error "
          f"{np.median(position):.3f}, cube rotation error "
          f"{np.degrees(np.nanmedian(rotation)):.1f} deg, "
          f"{fit.seconds / FLAGS.scenes:.2f} s per image", flush=True)
  os.makedirs(FLAGS.output, exist_ok=True)
  files.write_json(os.path.join(FLAGS.output, "renderer_gradients.json"),
                   results)


if __name__ == "__main__":
  app.run(main)
