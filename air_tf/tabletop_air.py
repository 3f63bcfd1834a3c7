"""AIR as inverse graphics: the fixed table-top renderer as p(x | z).

The same model as the 2D one with other parts plugged in. Per step i:
z_pres_i (REINFORCE with the NVIL baseline, as in 2D), the object's pose
z_where_i = (x, y, rotation) (reparameterised, gradients through the
renderer) and its identity z_what_i, a one-hot over `shapes.SHAPES`
(REINFORCE with the same per-step learning signal as z_pres_i: the paper's
likelihood-ratio estimator). Nothing of the renderer is learned; the
inference network learns to invert it.

Everything the 2D training, evaluation and logging code reads of a model
is here under the same names (`AIROutput`, `build`, `baseline`,
`model_variables`), so `training.Trainer` trains it unchanged.
"""

import dataclasses
from typing import NamedTuple, Optional

import numpy as np
import sonnet as snt
import tensorflow as tf
import tensorflow_probability as tfp

from air_tf import mujoco_renderer
from air_tf import shapes
from air_tf import tabletop
from air_tf.config import JsonConfig
from air_tf.estimator import Baseline
from air_tf.inference import (SOFTPLUS_OF_ZERO, BatchPart, draw_normal,
                              draw_one_hot, draw_presence, held_unless,
                              image_encoder, normal_distribution,
                              pres_distribution, write_step)
from air_tf.model import AIROutput, elbos_by_count, generate, score
from air_tf.prior import Prior
from air_tf.recurrent import ContextLSTM
from air_tf.renderer import Renderer
from air_tf.spatial_transformer import canvas_to_window, mask_boxes
from air_tf.tabletop_renderer import (GRADIENTS as RENDERER_GRADIENTS, Camera,
                                      TabletopRenderer, camera_rays, project)

tfd = tfp.distributions

_POSE_SIZE = 3
# Height of the plane that objects' centres are taken to lie on where the
# image is read: their mean half height above the table.
_CENTRE_HEIGHT = float(np.mean([shape.half_height for shape in shapes.SHAPES]))
IDENTITY_GRADIENTS = ("enumerate", "reinforce")
# `TabletopConfig`'s fields are flags of this prefix: several share a name
# with `AIRConfig`'s.
FLAG_PREFIX = "tabletop_"
# The values each choice field of `TabletopConfig` takes, for its flags.
FLAG_CHOICES = {"identity_gradient": IDENTITY_GRADIENTS,
                "renderer_gradients": RENDERER_GRADIENTS,
                "renderer": tabletop.SCENE_RENDERERS}


@dataclasses.dataclass(frozen=True)
class TabletopConfig(JsonConfig):
  """Architecture of a table-top AIR model.

  Attributes:
    image_size: side of the square colour images.
    max_steps: N, the most objects.
    lstm_size: units of the inference LSTM.
    image_encoder_hidden: hidden sizes of the MLP that embeds the image (or,
      with DAIR, the residual).
    baseline_lstm_size: units of the NVIL baseline's own LSTM.
    baseline_hidden: hidden sizes of the MLP on top of it.
    dair: whether inference sees the image minus the objects found so far.
    likelihood_std: standard deviation of each pixel and channel.
    edge_softness: the renderer's silhouette edge, world units: softer than
      the scenes' own so that a pose a few pixels off still gets a
      gradient.
    pose_prior_scale: prior std of (x, y, rotation); means 0. Scenes place
      centres uniformly within +-0.65 (std 0.375) and rotations anywhere.
    pose_posterior_init_std: roughly the posterior std of a fresh network.
      The rotation's starts at 0.05 rad: a std that is a good share of
      the cube's quarter-turn period averages the likelihood over it and
      leaves the mean almost no gradient (at 0.5 it grew to 0.8 rad and
      the rotation was not learnt: docs/RESULTS.md, issue 16).
    position_range: the posterior mean of (x, y) stays within +- this.
    residual_attention: each step's position starts from where the pixels
      still to explain (the DAIR residual) differ most from the model's
      canvas, a soft-argmax over the pixels carried to the table through
      the camera, and the network learns an offset from there. Without
      it a fresh network places objects at random, each costs far more
      than it explains, and q(z_pres) turned every step off within 300
      steps (docs/RESULTS.md, issue 16).
    glimpse_hidden: hidden sizes of the MLP that reads the rotation from
      the pixels around the object (`TabletopInference`).
    identity_gradient: how the identities' q learns. "enumerate": step i's
      expected log-likelihood over its three identities, the other latents
      held at their draws, differentiated exactly (3 N extra renders, in
      the backward pass only; what later steps would have inferred from
      another identity is not followed). "reinforce": the likelihood-ratio
      estimator with z_pres_i's learning signal, unbiased but noisy (the
      paper's). A fresh network guesses the identity right one time in
      three, and a wrong colour costs more than a right one gains: with
      REINFORCE, q(z_pres) turned off before the identities were learnt.
    renderer_gradients: how the renderer's pixels are differentiated with
      respect to the poses: "autodiff" or "finite_differences" (central
      differences of whole images, as the paper did with its renderer;
      6 N more renders per backward pass).
    renderer: what draws p(x | z)'s mean, one of
      `tabletop.SCENE_RENDERERS`: "tensorflow" (air_tf's renderer) or
      "mujoco" (the paper's renderer, `mujoco_renderer`: needs
      `renderer_gradients="finite_differences"`, no DAIR, training
      without XLA, and cannot be exported).
  """
  image_size: int = 64
  max_steps: int = 3
  lstm_size: int = 256
  image_encoder_hidden: tuple[int, ...] = (256,)
  baseline_lstm_size: int = 256
  baseline_hidden: tuple[int, ...] = (200,)
  dair: bool = True
  likelihood_std: float = 0.1
  edge_softness: float = 0.02
  pose_prior_scale: tuple[float, float, float] = (0.4, 0.4, 2.0)
  pose_posterior_init_std: tuple[float, float, float] = (0.1, 0.1, 0.05)
  position_range: float = 0.8
  residual_attention: bool = True
  glimpse_hidden: tuple[int, ...] = (128,)
  identity_gradient: str = "enumerate"
  renderer_gradients: str = "autodiff"
  renderer: str = "tensorflow"

  @property
  def canvas_size(self) -> tuple[int, int]:
    """(H, W) of the images, as `AIRConfig` names it."""
    return self.image_size, self.image_size

  @property
  def image_shape(self) -> tuple[int, int, int]:
    """Shape of one image, `(H, W, 3)`: colour."""
    return self.image_size, self.image_size, 3

  @property
  def z_what_size(self) -> int:
    """Size of z_what, the one-hot identity over `shapes.SHAPES`."""
    return shapes.NUM_SHAPES

  def __post_init__(self):
    for name in ("image_size", "max_steps", "lstm_size",
                 "baseline_lstm_size"):
      if getattr(self, name) < 1:
        raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}.")
    for name in ("likelihood_std", "edge_softness", "position_range"):
      if getattr(self, name) <= 0:
        raise ValueError(f"{name} must be > 0, got {getattr(self, name)}.")
    if self.identity_gradient not in IDENTITY_GRADIENTS:
      raise ValueError(f"identity_gradient must be one of "
                       f"{IDENTITY_GRADIENTS}, got {self.identity_gradient!r}.")
    if self.renderer_gradients not in RENDERER_GRADIENTS:
      raise ValueError(f"renderer_gradients must be one of "
                       f"{RENDERER_GRADIENTS}, got "
                       f"{self.renderer_gradients!r}.")
    if self.renderer not in tabletop.SCENE_RENDERERS:
      raise ValueError(f"renderer must be one of {tabletop.SCENE_RENDERERS}, "
                       f"got {self.renderer!r}.")
    if self.renderer == "mujoco" and (
        self.renderer_gradients != "finite_differences" or self.dair):
      raise ValueError(
          "The mujoco renderer gives no gradients and cannot run inside "
          "the inference loop: it needs renderer_gradients="
          "'finite_differences' and dair=False.")
    for name in ("image_encoder_hidden", "baseline_hidden",
                 "glimpse_hidden"):
      if min(getattr(self, name), default=1) < 1:
        raise ValueError(f"{name} must be layer sizes >= 1, got "
                         f"{getattr(self, name)}.")
    for name in ("pose_prior_scale", "pose_posterior_init_std"):
      if len(getattr(self, name)) != 3 or min(getattr(self, name)) <= 0:
        raise ValueError(f"{name} must be three stds > 0, got "
                         f"{getattr(self, name)}.")


class TabletopPrior(Prior):
  """p(n) as in 2D, p(pose) normal, p(identity) uniform over the shapes."""

  def z_what(self) -> tfd.Distribution:
    """p(identity): uniform one-hot over the shapes, event [S]."""
    return tfd.OneHotCategorical(logits=tf.zeros([shapes.NUM_SHAPES]),
                                 dtype=tf.float32)


class SceneRenderer(Renderer):
  """The fixed table-top renderer behind AIR's `Renderer` interface."""

  def __init__(self, image_size: int, edge_softness: float,
               likelihood_std: float, gradients: str = "autodiff",
               renderer: str = "tensorflow", name: str = "renderer"):
    """Constructs the renderer.

    Args:
      image_size: side of the square images.
      edge_softness: width of the silhouettes' edges, world units.
      likelihood_std: standard deviation of the normal pixel likelihood.
      gradients: how the likelihood's mean is differentiated, "autodiff"
        or "finite_differences" (`TabletopRenderer`). DAIR's residual,
        rendered inside the inference loop, is differentiated by autodiff
        either way: TensorFlow cannot take a custom gradient that
        captures tensors inside a `tf.while_loop`.
      renderer: what draws the likelihood's mean: "tensorflow" or
        "mujoco" (`mujoco_renderer.MujocoRenderer`, finite differences;
        the empty table and DAIR's objects stay air_tf's).
      name: the module's name.
    """
    super().__init__((image_size, image_size), "normal", likelihood_std,
                     name=name)
    camera = Camera(image_size=image_size)
    self.scene = (
        mujoco_renderer.MujocoRenderer(camera) if renderer == "mujoco" else
        TabletopRenderer(camera, edge_softness=edge_softness,
                         gradients=gradients))
    self._objects = self.scene if (
        gradients == "autodiff" and renderer == "tensorflow") else (
            TabletopRenderer(camera, edge_softness=edge_softness))
    self._table = self._objects(tf.zeros([1, 1]),
                             tf.one_hot([[0]], shapes.NUM_SHAPES),
                             tf.zeros([1, 1, _POSE_SIZE]))[0]

  def background(self) -> tf.Tensor:
    """The empty table, `[H, W, 3]`."""
    return self._table

  def render_object(self, z_where: tf.Tensor, z_what: tf.Tensor) -> tf.Tensor:
    """What one object adds to the empty table, `[M, 3], [M, S] ->
    [M, H, W, 3]` (objects that hide each other do not add up exactly: for
    DAIR's residual, not for the likelihood)."""
    alone = self._objects(tf.ones([tf.shape(z_where)[0], 1]),
                       z_what[:, tf.newaxis], z_where[:, tf.newaxis])
    return alone - self._table

  def __call__(self, z_pres: tf.Tensor, z_where: tf.Tensor,
               z_what: tf.Tensor) -> tf.Tensor:
    """The scene of the present objects, `[B, H, W, 3]`, with occlusion."""
    return self.scene(z_pres, z_what, z_where)


def _table_points(camera: Camera) -> np.ndarray:
  """`[H * W, 2]` (x, y) where each pixel's ray meets the plane of the
  objects' centres (their mean half height above the table)."""
  origin, directions = camera_rays(camera)
  along = (_CENTRE_HEIGHT - origin[2]) / np.minimum(directions[:, 2], -1e-6)
  return (origin[:2] + along[:, np.newaxis] * directions[:, :2]).astype(
      np.float32)


class TabletopPosterior(NamedTuple):
  """Latents and posterior parameters of every step, `[B, N, ...]`."""
  z_pres: tf.Tensor  # [B, N] 0/1, 0 after the first 0.
  z_pres_logits: tf.Tensor  # [B, N]
  z_where: tf.Tensor  # [B, N, 3] pose (x, y, rotation).
  z_where_loc: tf.Tensor  # [B, N, 3]
  z_where_scale: tf.Tensor  # [B, N, 3]
  z_what: tf.Tensor  # [B, N, S] one-hot identity.
  z_what_logits: tf.Tensor  # [B, N, S]

  def pres_distribution(self) -> tfd.Distribution:
    return pres_distribution(self.z_pres_logits)

  def where_distribution(self) -> tfd.Distribution:
    return normal_distribution(self.z_where_loc, self.z_where_scale)

  def what_distribution(self) -> tfd.Distribution:
    return identity_distribution(self.z_what_logits)


def identity_distribution(logits: tf.Tensor) -> tfd.Distribution:
  """q(identity): one-hot float32 samples, event [S]."""
  return tfd.OneHotCategorical(logits=logits, dtype=tf.float32)


class TabletopInference(snt.Module):
  """An LSTM that finds one object per step: presence, position and
  identity from its state, the rotation from its state and a glimpse of
  the object where the position puts it."""

  def __init__(self, renderer: SceneRenderer, max_steps: int,
               lstm_size: int, image_encoder_hidden: tuple[int, ...],
               dair: bool, pose_init_std: tuple[float, float, float],
               position_range: float, residual_attention: bool,
               glimpse_hidden: tuple[int, ...], name: str = "inference"):
    """Constructs the inference network.

    Args:
      renderer: with DAIR each step reads the image minus what the objects
        found so far add to the table.
      max_steps: N.
      lstm_size: units of the LSTM.
      image_encoder_hidden: hidden sizes of the image embedding MLP.
      dair: whether each step sees the residual or the image.
      pose_init_std: roughly the posterior std of (x, y, rotation) of a
        fresh network.
      position_range: the posterior mean of (x, y) stays within +- this.
      residual_attention: start each position from where the residual
        differs most (see `TabletopConfig`).
      glimpse_hidden: hidden sizes of the MLP that embeds the glimpse the
        rotation is read from.
      name: the module's name.
    """
    super().__init__(name=name)
    self._renderer = renderer
    self._table_points = (tf.constant(_table_points(renderer.scene.camera))
                          if residual_attention else None)
    # Softmax temperature of the attention, per unit of summed absolute
    # residual: at 20 pixels that differ by 1 outweigh those that differ by
    # 0.7 400-fold.
    self._sharpness = (tf.Variable(20.0, name="attention_sharpness")
                       if residual_attention else None)
    self._max_steps = max_steps
    self._dair = dair
    self._position_range = position_range
    self._image_encoder = image_encoder(image_encoder_hidden)
    self._lstm = ContextLSTM(lstm_size, name="lstm")
    self._head = snt.Linear(1 + 2 * 2 + shapes.NUM_SHAPES,
                            name="pres_position_identity_head")
    self._glimpse_size = renderer.scene.window_size
    self._glimpse_zoom = renderer.scene.image_size / self._glimpse_size
    self._glimpse_encoder = snt.nets.MLP(glimpse_hidden, activate_final=True,
                                         name="glimpse_encoder")
    self._rotation_head = snt.Linear(3, name="rotation_head")
    self._pose_std_unit = tf.constant(pose_init_std,
                                      tf.float32) / SOFTPLUS_OF_ZERO

  def _glimpse(self, residual: tf.Tensor, position: tf.Tensor) -> tf.Tensor:
    """`[B, G, G, 3]` the pixels of `[B, H, W, 3]` residual around where an
    object at table position `[B, 2]` appears, at the image's own scale
    (G: the renderer's window, which holds any shape whole)."""
    height = tf.ones_like(position[:, :1]) * _CENTRE_HEIGHT
    centre = project(tf.concat([position, height], axis=1),
                     self._renderer.scene.camera)
    row, column = tf.unstack(
        2.0 * centre / self._renderer.scene.image_size - 1.0, axis=1)
    where = tf.stack([tf.ones_like(row) * self._glimpse_zoom, column, row],
                     axis=1)
    return canvas_to_window(residual, where, self._glimpse_size)

  def _rotation(self, hidden: tf.Tensor, glimpse: tf.Tensor
                ) -> tuple[tf.Tensor, tf.Tensor]:
    """q(rotation)'s `[B, 1]` mean and `[B, 1]` pre-softplus std from the
    LSTM's `[B, F]` state and the object's `[B, G, G, 3]` glimpse.

    The mean is read as a direction (u, v), a turn of atan2(v, u) over the
    full circle standing for that share of `shapes.ROTATION_PERIOD`: every
    rotation that looks the same is one output, and the readout has no
    seam where a small change of the image would need a jump of a whole
    period (an unbounded number did not learn the cube's rotation:
    docs/RESULTS.md, issue 16).
    """
    readout = self._rotation_head(tf.concat(
        [hidden, self._glimpse_encoder(snt.flatten(glimpse))], axis=1))
    turn = tf.atan2(readout[:, 1:2], readout[:, 0:1])
    return turn * (shapes.ROTATION_PERIOD / (2 * np.pi)), readout[:, 2:3]

  def _attend(self, residual: tf.Tensor) -> tf.Tensor:
    """`[B, 2]` the table point seen where `[B, H, W, 3]` residual pixels
    differ most (a soft-argmax)."""
    difference = tf.reduce_sum(tf.abs(tf.reshape(
        residual, [tf.shape(residual)[0], -1, 3])), axis=-1)
    weights = tf.nn.softmax(self._sharpness * difference, axis=1)
    return tf.matmul(weights, self._table_points)

  def __call__(self, images: tf.Tensor, seed: Optional[tf.Tensor] = None,
               sample: bool = True, presence: Optional[tf.Tensor] = None,
               batch_part: Optional[BatchPart] = None,
               learn_presence: Optional[tf.Tensor] = None
               ) -> TabletopPosterior:
    """Infers the objects of `[B, H, W, 3]` images (see `InferenceNetwork`)."""
    if sample and seed is None:
      raise ValueError("Sampling needs a stateless seed.")
    batch_size = tf.shape(images)[0]
    n, s = self._max_steps, shapes.NUM_SHAPES

    def zeros(*shape):
      return tf.zeros(tf.stack([batch_size, n, *shape]))

    posterior = TabletopPosterior(
        z_pres=zeros(), z_pres_logits=zeros(), z_where=zeros(_POSE_SIZE),
        z_where_loc=zeros(_POSE_SIZE), z_where_scale=zeros(_POSE_SIZE) + 1.0,
        z_what=zeros(s), z_what_logits=zeros(s))
    latents_size = _POSE_SIZE + s + 1
    background = self._renderer.background()
    embed = lambda residual: self._image_encoder(snt.flatten(residual))
    image_gates = None if self._dair else self._lstm.project_context(
        embed(images - background), latents_size)

    def step(i, state, canvas, prev_pres, prev_where, prev_what, posterior):
      gates = (self._lstm.project_context(embed(images - canvas),
                                          latents_size)
               if self._dair else image_gates)
      latents = tf.concat([prev_where, prev_what, prev_pres[:, tf.newaxis]],
                          axis=1)
      hidden, state = self._lstm.step(gates, latents, state)
      head = self._head(hidden)
      pres_logits = held_unless(learn_presence, head[:, 0])
      offset = head[:, 1:3]
      residual = images - canvas
      if self._table_points is not None:
        offset += self._attend(residual)
      position = self._position_range * tf.tanh(offset /
                                                self._position_range)
      rotation, rotation_scale = self._rotation(
          hidden, self._glimpse(residual, tf.stop_gradient(position)))
      where_loc = tf.concat([position, rotation], axis=1)
      where_scale = tf.nn.softplus(tf.concat(
          [head[:, 3:5], rotation_scale], axis=1)) * self._pose_std_unit
      what_logits = head[:, 5:]
      if sample:
        pres_seed, where_seed, what_seed = tfp.random.split_seed(
            tf.random.experimental.stateless_fold_in(seed, i), n=3)
        pres = draw_presence(pres_logits, pres_seed, batch_part)
        where = draw_normal(where_loc, where_scale, where_seed, batch_part)
        what = draw_one_hot(what_logits, what_seed, batch_part)
      else:
        pres = tf.cast(pres_logits > 0.0, tf.float32)
        where = where_loc
        what = tf.one_hot(tf.argmax(what_logits, axis=1), s)
      if presence is not None:
        pres = tf.gather(presence, i, axis=1)
      pres = prev_pres * pres
      if self._dair:
        canvas += pres[:, tf.newaxis, tf.newaxis, tf.newaxis] * (
            self._renderer.render_object(where, what))
      posterior = TabletopPosterior(*[
          write_step(accumulator, i, value) for accumulator, value in zip(
              posterior, (pres, pres_logits, where, where_loc, where_scale,
                          what, what_logits))])
      return i + 1, state, canvas, pres, where, what, posterior

    def not_done(i, state, canvas, prev_pres, *unused):
      return tf.logical_and(i < n, tf.reduce_any(prev_pres > 0.0))

    loop_vars = (tf.constant(0), self._lstm.initial_state(batch_size),
                 tf.zeros_like(images) + background, tf.ones([batch_size]),
                 tf.zeros([batch_size, _POSE_SIZE]), tf.zeros([batch_size, s]),
                 posterior)
    *_, posterior = tf.while_loop(not_done, step, loop_vars,
                                  maximum_iterations=n)
    return posterior


class TabletopAIR(snt.Module):
  """AIR whose generative model is the fixed table-top renderer."""

  # Training steps before q(z_pres) learns (`TrainConfig`): the renderer
  # draws every guess in full, so presence waits until poses and
  # identities are learnt (docs/RESULTS.md, issue 16).
  PRESENCE_WARMUP_STEPS = 1000

  def __init__(self, config: TabletopConfig, name: str = "tabletop_air"):
    super().__init__(name=name)
    self.config = config
    self.prior = TabletopPrior(config.max_steps, shapes.NUM_SHAPES,
                               (0.0, 0.0, 0.0), config.pose_prior_scale)
    self.renderer = SceneRenderer(config.image_size, config.edge_softness,
                                  config.likelihood_std,
                                  config.renderer_gradients, config.renderer)
    self.inference = TabletopInference(
        self.renderer, config.max_steps, config.lstm_size,
        config.image_encoder_hidden, config.dair,
        config.pose_posterior_init_std, config.position_range,
        config.residual_attention, config.glimpse_hidden)
    self.baseline = Baseline(config.baseline_lstm_size,
                             config.baseline_hidden,
                             config.image_encoder_hidden)

  @property
  def xla_compilable(self) -> bool:
    """Whether its passes compile with XLA: not with MuJoCo, which renders
    outside TensorFlow's graph."""
    return self.config.renderer == "tensorflow"

  @property
  def model_variables(self) -> tuple[tf.Variable, ...]:
    """Trainable variables of the inference network (the renderer has
    none)."""
    return self.inference.trainable_variables

  def __call__(self, images: tf.Tensor, z_pres_prob: tf.Tensor,
               seed: Optional[tf.Tensor] = None, sample: bool = True,
               presence: Optional[tf.Tensor] = None,
               batch_part: Optional[BatchPart] = None,
               learn_presence: Optional[tf.Tensor] = None) -> AIROutput:
    """Infers, renders and scores `[B, H, W, 3]` images (see `AIR`).

    `log_q_discrete` holds log q of z_pres_i and, with REINFORCE for
    identities, of the identity where the object is present: both are
    then trained by the same step's learning signal. With enumerated
    identities the sampled ELBO carries a term of value 0 whose gradient
    is the enumeration's (`_identity_expectation`).
    """
    posterior = self.inference(images, seed, sample=sample,
                               presence=presence, batch_part=batch_part,
                               learn_presence=learn_presence)
    enumerate_identities = self.config.identity_gradient == "enumerate"
    output = score(posterior, images, z_pres_prob, self.prior, self.renderer,
                   discrete_what=not enumerate_identities)
    if not (sample and enumerate_identities):
      return output
    return output._replace(elbo=output.elbo + self._identity_expectation(
        images, posterior))

  def _identity_expectation(self, images: tf.Tensor,
                            posterior: TabletopPosterior) -> tf.Tensor:
    """`[B]` zeros whose gradient with respect to the identity logits is
    that of sum_i z_pres_i E_q(identity_i)[log p(x | z)], each step's
    identity enumerated with the other latents at their draws."""
    z_pres, z_where, z_what = (tf.stop_gradient(value) for value in (
        posterior.z_pres, posterior.z_where, posterior.z_what))
    steps, num_shapes = self.config.max_steps, shapes.NUM_SHAPES

    @tf.custom_gradient
    def zeros(logits):
      def gradient(upstream):
        log_likelihoods = []  # [B] per (step, shape), step-major.
        for i in range(steps):
          replaced = tf.one_hot(i, steps)[tf.newaxis, :, tf.newaxis]
          for shape in range(num_shapes):
            identities = (z_what * (1.0 - replaced) +
                          replaced * tf.one_hot(shape, num_shapes))
            log_likelihoods.append(self.renderer.likelihood(
                self.renderer(z_pres, z_where, identities)).log_prob(images))
        log_likelihood = tf.reshape(tf.stack(log_likelihoods, axis=1),
                                    [-1, steps, num_shapes])
        q = tf.nn.softmax(logits)
        centred = log_likelihood - tf.reduce_sum(q * log_likelihood, -1,
                                                 keepdims=True)
        return (upstream[:, tf.newaxis, tf.newaxis] *
                z_pres[..., tf.newaxis] * q * centred)
      return tf.zeros(tf.shape(logits)[:1]), gradient

    return zeros(posterior.z_what_logits)

  def count_elbos(self, images: tf.Tensor,
                  z_pres_prob: tf.Tensor) -> tf.Tensor:
    """`[B, N + 1]` the ELBO of each possible count (`elbos_by_count`)."""
    return elbos_by_count(self, images, z_pres_prob)

  def generate(self, num_samples: tf.Tensor, z_pres_prob: tf.Tensor,
               seed: tf.Tensor) -> dict[str, tf.Tensor]:
    """Scenes drawn from the prior (`model.generate`)."""
    return generate(self, num_samples, z_pres_prob, seed)

  def object_boxes(self, z_where: tf.Tensor, z_what: tf.Tensor) -> tf.Tensor:
    """`[B, N, 4]` (ymin, xmin, ymax, xmax) pixel edges of each step's
    object, its whole silhouette at pose `[B, N, 3]` z_where as shape
    `[B, N, S]` z_what."""
    batch_size, steps = tf.shape(z_what)[0], tf.shape(z_what)[1]
    silhouettes = self.renderer.scene.silhouettes(
        tf.reshape(z_what, [-1, shapes.NUM_SHAPES]),
        tf.reshape(z_where, [-1, _POSE_SIZE]))
    return tf.reshape(mask_boxes(silhouettes > 0.5),
                      [batch_size, steps, 4])

  def build(self, baseline: bool = True) -> None:
    """Creates every variable now (see `AIR.build`)."""
    blank = tf.zeros([1, self.config.image_size, self.config.image_size, 3])
    posterior = self(blank, 0.5, sample=False).posterior
    if baseline:
      self.baseline(blank, posterior.z_pres, posterior.z_where,
                    posterior.z_what)
