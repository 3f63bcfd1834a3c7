"""A trained AIR as a SavedModel that plain TensorFlow can load and call.

Either model exports: the 2D AIR (grey images, `image_shape` `[H, W]`) and
the table-top AIR (colour images, `image_shape` `[H, W, 3]`). The
SavedModel needs neither air_tf nor TensorFlow Probability to be loaded:
`tf.saved_model.load(path)` gives its signatures

- `serving_default` and `infer`: `images` float32 `[B, *image_shape]` in
  [0, 1] -> `count` int32 `[B]`, `z_pres_prob` float32 `[B, N]`, `boxes`
  float32 `[B, N, 4]` (ymin, xmin, ymax, xmax) in pixels, `z_where`
  float32 `[B, N, 3]` (2D: scale, x, y of the window; table-top: x, y on
  the table and rotation about the vertical axis in radians), `z_what`
  float32 `[B, N, D]` (2D: the appearance code; table-top: the one-hot
  identity, D = 3: cube, sphere, cylinder), `reconstruction` float32
  `[B, *image_shape]`. Deterministic: the posterior means (the most
  probable identity), and z_pres_i = [q(z_pres_i = 1) > threshold] (the
  2D model's `count_threshold`, 0.025 by default; the table-top model's 0.5)
  until the first absent step; with the 2D model's `count_by_flips` (the
  default) the count is instead the vote of that rule over the image and
  its three mirror images (with `count_by_zooms`, also of the image
  zoomed out and in), and the objects are those q infers under it.
  Rows of absent objects are zero.
- `sample`: `num_samples` int32 scalar -> `images` `[B, *image_shape]`,
  `count` `[B]`, `boxes` `[B, N, 4]`, drawn from the prior.

The same inference is the loaded object's function `infer(images)`, which
refuses float64, float16, bfloat16, uint8, int32 and int64 images with a
message that names float32 and the dtype it got (the signatures, typed
float32, leave that to TensorFlow: "expected to be a float tensor but is
a double tensor").

The model's configuration is stored as variables: `config_json` (the whole
`AIRConfig` or `TabletopConfig` as JSON), `model_kind` ("AIR" or
"TabletopAIR"), `image_shape` `[2]` or `[3]`, `canvas_size` `[2]`,
`max_steps`, `z_what_size` and `z_pres_prior` (the prior probability
`sample` draws objects with).
"""

import os
import shutil

import tensorflow as tf

from air_tf import models
from air_tf.model import presence_before


# Image dtypes that `infer` refuses with a message naming float32 and what
# it got; the signatures take float32 only and TensorFlow's own message.
_REFUSED_DTYPES = (tf.float64, tf.float16, tf.bfloat16, tf.uint8, tf.int32,
                   tf.int64)


def _checked_images(images: tf.Tensor,
                    image_shape: tuple[int, ...]) -> tf.Tensor:
  """`images` with a static `[B, *image_shape]` shape, or an error saying
  why not."""
  expected = (f"expected float32 images of shape "
              f"[B, {', '.join(str(size) for size in image_shape)}], "
              f"B >= 1, with values in [0, 1]")
  if images.dtype != tf.float32:
    refusal = tf.debugging.Assert(False, [
        f"images have dtype {images.dtype.name}: {expected} (uint8 pixels: "
        f"divide by 255)."])
    with tf.control_dependencies([refusal]):
      images = tf.cast(images, tf.float32)
  rank_check = tf.debugging.assert_rank(
      images, 1 + len(image_shape),
      message=f"images have the wrong rank: {expected}")
  with tf.control_dependencies([rank_check]):
    shape = tf.shape(images)
  size_check = tf.debugging.assert_equal(
      shape[1:], tf.constant(image_shape),
      message=f"images have the wrong {_dimension_names(image_shape)}: "
              f"{expected}")
  with tf.control_dependencies([size_check]):
    empty_check = tf.debugging.assert_positive(
        shape[0], message=f"the batch is empty: {expected}")
  with tf.control_dependencies([empty_check]):
    finite_check = tf.debugging.assert_all_finite(
        images, message=f"images contain NaN or Inf: {expected}")
  with tf.control_dependencies([finite_check]):
    range_check = tf.debugging.Assert(
        tf.reduce_all((images >= 0.0) & (images <= 1.0)),
        [f"images have values outside [0, 1]: {expected}. Their range is",
         tf.reduce_min(images), tf.reduce_max(images)])
  with tf.control_dependencies([range_check]):
    checked = tf.identity(images)
  # Static shape only: a runtime tf.ensure_shape would fail during shape
  # inference, before the checks above could say what was wrong.
  checked.set_shape([None, *image_shape])
  return checked


def _dimension_names(image_shape: tuple[int, ...]) -> str:
  return "height/width" + ("/channels" if len(image_shape) == 3 else "")


class ServingModule(tf.Module):
  """The exported functions and configuration of one trained AIR."""

  def __init__(self, model: models.Model, z_pres_prior: float):
    super().__init__(name="air_serving")
    config = model.config
    self._model = model
    self.config_json = tf.Variable(config.to_json(), trainable=False)
    self.model_kind = tf.Variable(type(model).__name__, trainable=False)
    self.image_shape = tf.Variable(list(config.image_shape), trainable=False)
    self.canvas_size = tf.Variable(list(config.canvas_size), trainable=False)
    self.max_steps = tf.Variable(config.max_steps, trainable=False)
    self.z_what_size = tf.Variable(config.z_what_size, trainable=False)
    self.z_pres_prior = tf.Variable(z_pres_prior, trainable=False)

  def _boxes(self, z_pres: tf.Tensor, z_where: tf.Tensor,
             z_what: tf.Tensor) -> tf.Tensor:
    """`[B, N, 4]` pixel boxes of present objects, zero rows for absent."""
    return (self._model.object_boxes(z_where, z_what) *
            z_pres[..., tf.newaxis])

  @tf.function(autograph=False)
  def infer(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
    """Deterministic inference; see the module docstring."""
    return self._infer_checked(_checked_images(
        images, self._model.config.image_shape))

  # Compiled apart from the checks, whose assertions XLA cannot run: the
  # whole inference loop becomes one XLA computation per batch size.
  @tf.function(jit_compile=True, autograph=False)
  def _infer_checked(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
    # The whole pass: XLA drops its likelihood and KLs, which no output
    # reads, and the 2D model's reconstruction is DAIR's own drawing.
    output = self._model(images, self.z_pres_prior, sample=False)
    posterior = output.posterior
    z_pres = posterior.z_pres
    reached = presence_before(z_pres)
    return {
        "count": tf.cast(tf.reduce_sum(z_pres, axis=1), tf.int32),
        "z_pres_prob": tf.sigmoid(posterior.z_pres_logits) * reached,
        "boxes": self._boxes(z_pres, posterior.z_where, posterior.z_what),
        "z_where": posterior.z_where * z_pres[..., tf.newaxis],
        "z_what": posterior.z_what * z_pres[..., tf.newaxis],
        "reconstruction": output.reconstruction,
    }

  @tf.function(input_signature=[tf.TensorSpec([], tf.int32,
                                              name="num_samples")],
               autograph=False)
  def sample(self, num_samples: tf.Tensor) -> dict[str, tf.Tensor]:
    """Scenes drawn from the prior; see the module docstring."""
    tf.debugging.assert_positive(
        num_samples, message="num_samples must be a positive int32 scalar.")
    seed = tf.random.uniform([2], maxval=tf.int32.max, dtype=tf.int32)
    scene = self._model.generate(num_samples, self.z_pres_prior, seed)
    return {
        "images": scene["images"],
        "count": scene["count"],
        "boxes": self._boxes(scene["z_pres"], scene["z_where"],
                             scene["z_what"]),
    }


def export(model: models.Model, z_pres_prior: float,
           export_dir: str) -> None:
  """Writes the SavedModel of `model` to `export_dir`, replacing it.

  The SavedModel is written next to `export_dir` and moved into place when
  complete, so `export_dir` never holds half a model.

  Raises:
    ValueError: the model renders outside TensorFlow's graph (MuJoCo),
      which a SavedModel cannot hold.
  """
  if not model.xla_compilable:
    raise ValueError("The model renders with MuJoCo, outside TensorFlow's "
                     "graph: a SavedModel cannot hold it.")
  module = ServingModule(model, z_pres_prior)
  infer = {dtype: module.infer.get_concrete_function(
      tf.TensorSpec(None, dtype, name="images"))
           for dtype in (tf.float32,) + _REFUSED_DTYPES}
  signatures = {"serving_default": infer[tf.float32],
                "infer": infer[tf.float32], "sample": module.sample}
  export_dir = os.path.abspath(export_dir)
  partial = export_dir + ".partial"
  shutil.rmtree(partial, ignore_errors=True)
  tf.saved_model.save(module, partial, signatures=signatures)
  if os.path.exists(export_dir):
    shutil.rmtree(export_dir)
  os.replace(partial, export_dir)
