"""The inference network q(z, n | x): attend, infer, repeat."""

import functools
import math
from typing import Callable, NamedTuple, Optional

import sonnet as snt
import tensorflow as tf
import tensorflow_probability as tfp

from air_tf import spatial_transformer
from air_tf.recurrent import ContextLSTM
from air_tf.renderer import Renderer

tfd = tfp.distributions

# softplus(0): a fresh network's raw outputs are near 0.
SOFTPLUS_OF_ZERO = 0.6931472
# The zoomed passes of the vote (`AIRConfig.count_by_zooms`): q counts
# full-size digits best shrunk to about 0.85 of their size, and the smallest
# enlarged about their ink (1.15 times on average; issue 13,
# docs/RESULTS.md).
ZOOM_OUT = 0.85
MAX_ZOOM_IN = 1.25
# Pixels above this are ink where `zoom_onto_ink` finds the box to enlarge.
INK_LEVEL = 0.05
# Below this much positive residual in its window (a sum of pixels) a
# window is not centred (`centre_windows_on_ink`).
LEAST_WINDOW_INK = 1e-3


class Posterior(NamedTuple):
  """Latents and posterior parameters of every step, `[B, N, ...]`.

  Steps after the first absent one have z_pres = 0; steps the loop never
  ran (it stops once every image is done) hold z_pres_logits = 0, unit
  scales and zero locations, so every tensor stays finite.
  """
  # [B, N] 0/1 samples (in (0, 1) when relaxed), 0 after the first 0.
  z_pres: tf.Tensor
  z_pres_logits: tf.Tensor  # [B, N] logits of q(z_pres_i = 1 | ...).
  z_where: tf.Tensor  # [B, N, 3]
  z_where_loc: tf.Tensor  # [B, N, 3]
  z_where_scale: tf.Tensor  # [B, N, 3]
  z_what: tf.Tensor  # [B, N, D]
  z_what_loc: tf.Tensor  # [B, N, D]
  z_what_scale: tf.Tensor  # [B, N, D]

  def pres_distribution(self) -> tfd.Distribution:
    """q(z_pres_i | z_pres_{i-1} = 1, ...): batch [B, N], event []."""
    return pres_distribution(self.z_pres_logits)

  def where_distribution(self) -> tfd.Distribution:
    """q(z_where_i | ...): batch [B, N], event [3]."""
    return normal_distribution(self.z_where_loc, self.z_where_scale)

  def what_distribution(self) -> tfd.Distribution:
    """q(z_what_i | ...): batch [B, N], event [D]."""
    return normal_distribution(self.z_what_loc, self.z_what_scale)


class BatchPart(NamedTuple):
  """Where a batch sits in a larger one whose draws come from one seed:
  its images are images [first, first + B) of `total`.

  Each image then draws what it would draw in the whole batch, however the
  batch is split (across replicas, `air_tf.distribution`).
  """
  first: tf.Tensor  # int32 scalar.
  total: tf.Tensor  # int32 scalar.


def _draws(sampler, seed: tf.Tensor, part: Optional[BatchPart],
           like: tf.Tensor, event_size: Optional[int] = None) -> tf.Tensor:
  """`[B]` or `[B, event_size]` draws of `sampler` (a stateless `tf.random`
  function, which `tfp` samples with) for the B images of batch `part`
  (None: the whole batch), B the leading size of `like`."""
  batch_size = tf.shape(like)[0]
  part = part or BatchPart(0, batch_size)
  shape = [part.total] if event_size is None else [part.total, event_size]
  draws = sampler(tf.stack(shape), seed=seed)
  return draws[part.first:part.first + batch_size]


def held_unless(learn: Optional[tf.Tensor],
                value: tf.Tensor) -> tf.Tensor:
  """`value`, passing gradient only where scalar bool `learn` is True (or
  None)."""
  if learn is None:
    return value
  return tf.where(learn, value, tf.stop_gradient(value))


def draw_presence(logits: tf.Tensor, seed: tf.Tensor,
                  part: Optional[BatchPart] = None) -> tf.Tensor:
  """`[B]` 0/1 float32 draws of z_pres from `pres_distribution(logits)`,
  the ones its `sample(seed=seed)` draws, for the images of `part`
  (None: the whole batch)."""
  uniform = _draws(tf.random.stateless_uniform, seed, part, logits)
  return tf.cast(uniform < tf.sigmoid(logits), tf.float32)


def draw_normal(loc: tf.Tensor, scale: tf.Tensor, seed: tf.Tensor,
                part: Optional[BatchPart] = None) -> tf.Tensor:
  """`[B, D]` draws from `normal_distribution(loc, scale)`, the ones its
  `sample(seed=seed)` draws, for the images of `part` (None: the whole
  batch)."""
  return _draws(tf.random.stateless_normal, seed, part, loc,
                loc.shape[-1]) * scale + loc


def draw_one_hot(logits: tf.Tensor, seed: tf.Tensor,
                 part: Optional[BatchPart] = None) -> tf.Tensor:
  """`[B, K]` one-hot draws from the categorical of `[B, K]` logits (by
  the Gumbel-max trick), for the images of `part` (None: the whole
  batch)."""
  uniform = _draws(tf.random.stateless_uniform, seed, part, logits,
                   logits.shape[-1])
  gumbel = -tf.math.log(-tf.math.log(
      tf.clip_by_value(uniform, 1e-20, 1.0 - 1e-7)))
  return tf.one_hot(tf.argmax(logits + gumbel, axis=-1), logits.shape[-1])


def draw_relaxed_presence(logits: tf.Tensor, temperature: tf.Tensor,
                          seed: tf.Tensor,
                          part: Optional[BatchPart] = None) -> tf.Tensor:
  """`[B]` draws in [0, 1] (float32 rounds the tails to 0 and 1) of the
  binary Concrete (relaxed Bernoulli) of q(z_pres) at `temperature`
  (Maddison et al., 2017): sigmoid((logits - logit(u)) / temperature) at
  the uniform draws u of `draw_presence`, so each rounds to the 0/1 that
  `draw_presence(logits, seed, part)` draws, and passes gradient to the
  logits.
  """
  uniform = _draws(tf.random.stateless_uniform, seed, part, logits)
  uniform = tf.clip_by_value(uniform, 1e-7, 1.0 - 1e-7)
  logistic = tf.math.log(uniform) - tf.math.log1p(-uniform)
  return tf.sigmoid((logits - logistic) / temperature)


def pres_distribution(logits: tf.Tensor) -> tfd.Distribution:
  """The Bernoulli of z_pres with these logits (0/1 float32 samples)."""
  return tfd.Bernoulli(logits=logits, dtype=tf.float32)


def count_distribution(z_pres_logits: tf.Tensor) -> tfd.Categorical:
  """The number of objects n in {0, ..., N} that a chain of presences
  draws: step i is present with probability sigmoid(logit_i) as long as
  every earlier step was, so q(n = k) = prod_{i<k} q_i (1 - q_k) for
  k < N and prod_i q_i for k = N (the posterior's analogue of
  `Prior.count`).

  Args:
    z_pres_logits: `[B, N]` logits of q(z_pres_i = 1 | z_pres_{<i} = 1).

  Returns:
    A Categorical with batch shape [B], event [], N + 1 categories.
  """
  first = tf.zeros_like(z_pres_logits[:, :1])
  log_reached = tf.concat(
      [first, tf.cumsum(tf.math.log_sigmoid(z_pres_logits), axis=1)], axis=1)
  log_stops = tf.concat([tf.math.log_sigmoid(-z_pres_logits), first], axis=1)
  return tfd.Categorical(logits=log_reached + log_stops)


def mirror_images(images: tf.Tensor) -> tf.Tensor:
  """`[B, H, W, ...]` -> `[4 B, H, W, ...]`: the images, then each flipped
  left to right, top to bottom, and both (turned half a turn), in that
  order."""
  return tf.concat([images, tf.reverse(images, [2]), tf.reverse(images, [1]),
                    tf.reverse(images, [1, 2])], axis=0)


def zoom_onto_ink(images: tf.Tensor) -> tf.Tensor:
  """`[B, H, W]` -> `[B, H, W]`: each image enlarged about the box of its
  ink (pixels above `INK_LEVEL`, one pixel of margin) by as much as keeps
  the box on the canvas, at most `MAX_ZOOM_IN`, the view kept on the
  image (a box wider than that stays as it is)."""
  height, width = images.shape[1], images.shape[2]
  ink = images > INK_LEVEL
  top, left, bottom, right = tf.unstack(spatial_transformer.mask_boxes(ink),
                                        axis=1)
  # One pixel of margin on each side; an image without ink stays as it is.
  factor = tf.clip_by_value(
      tf.minimum(height / (bottom - top + 2.0), width / (right - left + 2.0)),
      1.0, MAX_ZOOM_IN)
  factor = tf.where(tf.reduce_any(ink, axis=[1, 2]), factor, 1.0)

  def centre(low, high, size):
    half_view = size / factor / 2.0
    middle = tf.clip_by_value((low + high) / 2.0, half_view,
                              size - half_view)
    return 2.0 * middle / size - 1.0

  return spatial_transformer.zoom(
      images, factor,
      tf.stack([centre(left, right, width), centre(top, bottom, height)],
               axis=1))


def centre_windows_on_ink(residuals: tf.Tensor, z_where_loc: tf.Tensor,
                          fraction: float) -> tf.Tensor:
  """Window means moved part of the way to the ink left inside them.

  Each window's centre moves `fraction` of the way to the centre of mass
  of the residual's positive part inside the window
  (`spatial_transformer.window_centre_of_mass`); its scale, and a window
  with less than `LEAST_WINDOW_INK` inside, stay. The centre of mass
  passes no gradient. To the window it has none but at the window's
  edges; to the earlier steps, whose drawings it reads in the residual,
  it would have some, so their gradient leaves out how their drawings
  move later windows (a bias of the ELBO's gradient, which the runs in
  docs/RESULTS.md were trained with).

  Args:
    residuals: `[B, H, W]`, the image minus the objects drawn so far.
    z_where_loc: `[B, 3]` (scale, x, y).
    fraction: in [0, 1]; 0 returns the windows.

  Returns:
    `[B, 3]` the moved window means.
  """
  centre, mass = spatial_transformer.window_centre_of_mass(residuals,
                                                           z_where_loc)
  position = z_where_loc[:, 1:]
  moved = position + fraction * (tf.stop_gradient(centre) - position)
  return tf.concat(
      [z_where_loc[:, :1],
       tf.where((mass > LEAST_WINDOW_INK)[:, tf.newaxis], moved, position)],
      axis=1)


def vote_passes(images: tf.Tensor, zooms: bool) -> tf.Tensor:
  """The images a vote counts, `[B, H, W]` -> `[M B, H, W]`, pass by pass:
  the images' mirror images (`mirror_images`, M = 4), and with `zooms`
  then those of the images zoomed out by `ZOOM_OUT` about the centre
  (area means) and of the images zoomed onto their ink (`zoom_onto_ink`;
  M = 12)."""
  if not zooms:
    return mirror_images(images)
  batch_size = tf.shape(images)[0]
  zoomed_out = spatial_transformer.zoom(
      images, tf.fill([batch_size], ZOOM_OUT), tf.zeros([batch_size, 2]),
      area=True)
  return tf.concat([mirror_images(images), mirror_images(zoomed_out),
                    mirror_images(zoom_onto_ink(images))], axis=0)


def vote_counts(counts: tf.Tensor, max_count: int) -> tf.Tensor:
  """The count most passes give, `[M, B]` -> `[B]` int32 in
  {0, ..., max_count}; where counts tie for most votes, the count of the
  first pass that gives one of them (with four passes, the image's own,
  which always does).

  Args:
    counts: `[M, B]` int32, pass m's count of image b; pass 0 is the
      image's own.
    max_count: N, the largest count.
  """
  votes = tf.reduce_sum(tf.one_hot(counts, max_count + 1, dtype=tf.int32),
                        axis=0)
  most_voted = votes == tf.reduce_max(votes, axis=1, keepdims=True)
  by_image = tf.transpose(counts)
  first = tf.argmax(
      tf.cast(tf.gather(most_voted, by_image, batch_dims=1), tf.int32),
      axis=1, output_type=tf.int32)
  return tf.gather(by_image, first, batch_dims=1)


def normal_distribution(loc: tf.Tensor, scale: tf.Tensor) -> tfd.Distribution:
  """Independent normals over the last axis (the event)."""
  return tfd.Independent(tfd.Normal(loc, scale), reinterpreted_batch_ndims=1)


def image_encoder(hidden_sizes: tuple[int, ...]) -> Callable[[tf.Tensor],
                                                              tf.Tensor]:
  """The MLP that embeds flattened images, `[B, H * W] -> [B, F]`.

  With no hidden sizes the pixels themselves are the embedding.
  """
  if not hidden_sizes:
    return tf.identity
  return snt.nets.MLP(hidden_sizes, activate_final=True, name="image_encoder")


def salient_ink(images: tf.Tensor) -> tf.Tensor:
  """sign(x) sqrt(|x| + 0.01), elementwise: what q's reader sees with
  `AIRConfig.reader_square_root` (the default).

  Ink of 0.3 reads as 0.56 and of 1 as 1.0, so a faint small digit left
  in the residual stands out nearly as a bold one does; 0 stays 0, and
  any other value reads as at least 0.1 in its own sign. That step at 0
  tells q where anything at all is left: without it (sign(x) (sqrt(|x| +
  0.01) - 0.1)) two runs lost all of the square root's gain
  (docs/RESULTS.md, issue 13).
  """
  return tf.sign(images) * tf.sqrt(tf.abs(images) + 0.01)


def image_convolutions(channels: tuple[int, ...],
                       step_scale: float = 1.0) -> snt.Sequential:
  """3x3 convolutions of stride 2 with ReLUs, `[B, H, W, 1] -> [B, H', W', C]`.

  Each halves the image's sides (rounding up); no channels: the identity.
  The same weights read every place, so a faint small digit is seen
  wherever it stands, not only where the MLP after them saw digits often
  in training. Each convolution's output is `step_scale` times that of
  the weights the optimiser holds, which start `1 / step_scale` times
  He's: the function at initialisation does not depend on `step_scale`,
  and each of Adam's steps (about one learning rate in every variable,
  whatever the gradient's size) moves the effective weights
  `step_scale` times as far. At full steps these weights, which read
  every place at once, trained worse (`docs/RESULTS.md`, twenty-seventh
  and twenty-eighth sessions). On a CPU train them without XLA
  (`--nojit_compile`): XLA's CPU convolutions made a step 5x slower than
  TensorFlow's own.
  """
  layers = []
  input_channels = 1
  for i, output_channels in enumerate(channels):
    he_stddev = math.sqrt(2.0 / (9 * input_channels))
    layers += [
        snt.Conv2D(output_channels, 3, stride=2, padding="SAME",
                   w_init=snt.initializers.TruncatedNormal(
                       stddev=he_stddev / step_scale),
                   name=f"conv_{i}"),
        functools.partial(tf.multiply, step_scale), tf.nn.relu]
    input_channels = output_channels
  return snt.Sequential(layers, name="image_convolutions")


def write_step(accumulator: tf.Tensor, step: tf.Tensor,
           value: tf.Tensor) -> tf.Tensor:
  """accumulator[:, step] = value, for `[B, N, ...]` and `[B, ...]`."""
  max_steps = accumulator.shape[1]
  at_step = tf.one_hot(step, max_steps, on_value=True, off_value=False)
  at_step = tf.reshape(at_step, [1, max_steps] + [1] * (value.shape.rank - 1))
  return tf.where(at_step, tf.expand_dims(value, 1), accumulator)


class InferenceNetwork(snt.Module):
  """An LSTM that finds one object per step, for at most N steps.

  At step i the LSTM sees an embedding of the image (with DAIR, of the image
  minus the objects found so far) and the previous step's latents; it
  emits q(z_pres_i) and q(z_where_i); a glimpse cropped at z_where_i is
  encoded into q(z_what_i). Once an image draws z_pres = 0 all its later
  steps are absent, and the loop stops when every image has.
  """

  def __init__(self, renderer: Renderer, max_steps: int, z_what_size: int,
               window_size: int, lstm_size: int,
               encoder_hidden: tuple[int, ...],
               image_encoder_hidden: tuple[int, ...], dair: bool,
               z_where_prior_loc: tuple[float, float, float],
               z_where_init_std: tuple[float, float, float],
               scale_range: float, position_range: float,
               z_pres_floor: float,
               count_threshold: float,
               image_encoder_channels: tuple[int, ...] = (),
               image_convolution_step_scale: float = 1.0,
               reader_square_root: bool = True,
               count_by_flips: bool = True,
               count_by_zooms: bool = False,
               window_centring: float = 0.0,
               name: str = "inference"):
    """Constructs the inference network.

    Args:
      renderer: the model's renderer; with DAIR each step reads the image
        minus the objects it has rendered so far.
      max_steps: N, the most steps.
      z_what_size: D.
      window_size: side of the glimpse the z_what encoder reads.
      lstm_size: units of the LSTM.
      encoder_hidden: hidden sizes of the glimpse encoder MLP.
      image_encoder_hidden: hidden sizes of the image embedding MLP.
      dair: whether each step sees the residual (DAIR) or the image.
      z_where_prior_loc: the prior mean of (scale, x, y), around which the
        posterior mean is bounded.
      z_where_init_std: roughly the posterior std of (scale, x, y) of a
        fresh network.
      scale_range, position_range: bounds of the posterior mean (see
        `AIRConfig`).
      z_pres_floor: q(z_pres_i = 1) stays within [floor, 1 - floor].
      count_threshold: deterministic inference counts step i's object
        where q(z_pres_i = 1) > this.
      image_encoder_channels: channels of the strided convolutions the
        image passes before the embedding MLP; empty: none.
      image_convolution_step_scale: their step scale (`image_convolutions`).
      reader_square_root: whether the embedding reads `salient_ink` of the
        image (or residual) instead of its pixels.
      count_by_flips: deterministic inference counts by `infer_by_vote`
        (`AIRConfig.count_by_flips`) instead of the image's own pass.
      count_by_zooms: the vote also counts the mirror images of the image
        zoomed out and in (`vote_passes`; `AIRConfig.count_by_zooms`).
      window_centring: each step's window mean moves this fraction of the
        way to the ink left inside it (`centre_windows_on_ink`) before
        its glimpse is read; 0: not moved.
      name: the module's name.
    """
    super().__init__(name=name)
    self._renderer = renderer
    self._max_steps = max_steps
    self._z_what_size = z_what_size
    self._window_size = window_size
    self._dair = dair
    self._reader_square_root = reader_square_root
    self._ranges = (scale_range, position_range, position_range)
    self._z_pres_floor = z_pres_floor
    self._count_logit = math.log(count_threshold / (1.0 - count_threshold))
    self._count_by_flips = count_by_flips
    self._count_by_zooms = count_by_zooms
    self._window_centring = window_centring
    self._image_encoder = image_encoder(image_encoder_hidden)
    self._image_convolutions = image_convolutions(
        image_encoder_channels, image_convolution_step_scale)
    self._lstm = ContextLSTM(lstm_size, name="lstm")
    self._pres_where_head = snt.Linear(
        1 + 3 + 3, name="pres_where_head")
    self._glimpse_encoder = snt.nets.MLP(
        list(encoder_hidden) + [2 * z_what_size],
        activate_final=False, name="glimpse_encoder")
    self._z_where_prior_loc = tf.constant(z_where_prior_loc, tf.float32)
    self._z_where_std_unit = tf.constant(
        z_where_init_std, tf.float32) / SOFTPLUS_OF_ZERO

  def _bound_where(self, offset: tf.Tensor) -> tf.Tensor:
    """Squashes a `[B, 3]` offset from the prior mean into the allowed box."""
    ranges = tf.constant(self._ranges)
    squashed = ranges * tf.tanh(offset / tf.maximum(ranges, 1e-6))
    return tf.where(ranges > 0, squashed, offset)

  def _floor_logits(self, logits: tf.Tensor) -> tf.Tensor:
    """Logits of floor + (1 - 2 floor) sigmoid(logits); 0 stays 0."""
    floor = self._z_pres_floor
    if not floor:
      return logits
    probs = floor + (1.0 - 2.0 * floor) * tf.sigmoid(logits)
    return tf.math.log(probs) - tf.math.log1p(-probs)

  def _embed(self, images: tf.Tensor) -> tf.Tensor:
    """`[B, H, W]` images (or residuals) -> `[B, F]` embeddings."""
    if self._reader_square_root:
      images = salient_ink(images)
    features = self._image_convolutions(images[..., tf.newaxis])
    return self._image_encoder(snt.flatten(features))

  def __call__(self, images: tf.Tensor, seed: Optional[tf.Tensor] = None,
               sample: bool = True,
               presence: Optional[tf.Tensor] = None,
               batch_part: Optional[BatchPart] = None,
               learn_presence: Optional[tf.Tensor] = None,
               draws_as_values: bool = False,
               relaxed_temperature: Optional[tf.Tensor] = None,
               given: Optional[tuple[tf.Tensor, tf.Tensor]] = None
               ) -> Posterior:
    """The `Posterior` of every step (`infer_and_draw`'s arguments)."""
    return self.infer_and_draw(images, seed, sample, presence, batch_part,
                               learn_presence, draws_as_values,
                               relaxed_temperature, given)[0]

  def infer_and_draw(self, images: tf.Tensor,
                     seed: Optional[tf.Tensor] = None, sample: bool = True,
                     presence: Optional[tf.Tensor] = None,
                     batch_part: Optional[BatchPart] = None,
                     learn_presence: Optional[tf.Tensor] = None,
                     draws_as_values: bool = False,
                     relaxed_temperature: Optional[tf.Tensor] = None,
                     given: Optional[tuple[tf.Tensor, tf.Tensor]] = None
                     ) -> tuple[Posterior, Optional[tf.Tensor]]:
    """Infers the objects of a batch of images, and returns those DAIR drew.

    Args:
      images: `[B, H, W]` float32.
      seed: `[2]` int32 stateless seed; needed when `sample`.
      sample: draw the latents (training) or take the posterior means and
        z_pres = [q(z_pres) > count_threshold] (deterministic inference;
        with `count_by_flips`, as `infer_by_vote` counts).
      presence: `[B, N]` 0/1 z_pres to infer the other latents under,
        instead of drawing or thresholding q(z_pres); a 1 after a 0 counts
        as 0. None: z_pres as `sample` says.
      batch_part: where `images` sit in the batch `seed` draws for; None:
        they are the whole batch.
      learn_presence: scalar bool; where False the z_pres logits pass no
        gradient (`TrainConfig.presence_warmup_steps`). None: they do.
      draws_as_values: the drawn z_where and z_what pass no gradient, into
        the posterior, the later steps or (with DAIR) the residual they
        read, and the residual none to the renderer: each step's
        q(z_i | z_<i, x) is then differentiated at fixed draws, as
        reweighted wake-sleep needs (`estimator.reweighted_wake_losses`).
        The returned objects still pass gradient to the renderer.
      relaxed_temperature: scalar; when sampling, z_pres_i is drawn from
        the binary Concrete of q(z_pres_i) at this temperature
        (`draw_relaxed_presence`): a value in [0, 1] that weighs step i's
        object wherever it is drawn or read, and passes gradient to the
        logits; every step then runs. None: 0/1 Bernoulli draws.
      given: `[B, N, 3]` z_where and `[B, N, D]` z_what to take as each
        step's latents instead of drawing or taking the means (teacher
        forcing: the posterior is then q's at these latents, as the sleep
        phase scores it, `air_tf.sleep`). None: as `sample` says.

    Returns:
      The `Posterior` of every step, and with DAIR each step's object as
      the loop rendered it to read the residual, `[B, N, H, W]`, present or
      not (zeros where the loop never ran): the renderer's objects at the
      posterior's latents, which need not be rendered again. None without
      DAIR, which renders nothing.
    """
    if sample and seed is None:
      raise ValueError("Sampling needs a stateless seed.")
    if (self._count_by_flips and not sample and presence is None and
        given is None):
      return self.infer_by_vote(images)
    return self._infer_and_draw(images, seed, sample, presence, batch_part,
                                learn_presence, draws_as_values,
                                relaxed_temperature, given)

  def infer_by_vote(self, images: tf.Tensor
                    ) -> tuple[Posterior, Optional[tf.Tensor]]:
    """Deterministic inference that counts each image by a vote over four
    passes, the image's own and its three mirror images'
    (`mirror_images`), or with `count_by_zooms` over twelve, those and
    the mirror images of the image zoomed out and in (`vote_passes`);
    `infer_and_draw`'s returns, with z_pres of the count most passes give
    (`vote_counts`) and the image's own objects.

    A scene's count does not change when it is mirrored, but q reads each
    residual in one direction (its first window at one end of a digit's
    ink), so its miscounts of an image and of its mirror images are
    partly different ones, and the vote corrects many of them (issue 13,
    docs/RESULTS.md). Nor does the count change when a scene is zoomed
    (its objects staying on the canvas), and q counts pairs of small
    digits better enlarged and full-size digits better shrunk.

    Each pass infers every step as if the steps before it were present.
    Up to the first step q turns off, that is the deterministic pass
    itself, so one pass gives both its count (the steps before the first
    q(z_pres) at or below the threshold) and the objects under any
    voted count: one pass an image, not one more for the objects.

    Args:
      images: `[B, H, W]` float32.
    """
    batch_size = tf.shape(images)[0]
    passes = vote_passes(images, self._count_by_zooms)
    counted, objects = self._infer_and_draw(
        passes, sample=False,
        presence=tf.ones([tf.shape(passes)[0], self._max_steps]))
    turned_on = tf.cast(counted.z_pres_logits > self._count_logit, tf.int32)
    counts = tf.reshape(tf.reduce_sum(tf.math.cumprod(turned_on, axis=1),
                                      axis=1), [-1, batch_size])
    presence = tf.sequence_mask(vote_counts(counts, self._max_steps),
                                self._max_steps, dtype=tf.float32)
    own = Posterior(*[value[:batch_size] for value in counted])
    return (own._replace(z_pres=presence),
            None if objects is None else objects[:batch_size])

  def _infer_and_draw(self, images, seed=None, sample=True, presence=None,
                      batch_part=None, learn_presence=None,
                      draws_as_values=False, relaxed_temperature=None,
                      given=None):
    """`infer_and_draw` (its arguments and returns) with z_pres as
    `sample` and `presence` say, without the vote."""
    batch_size = tf.shape(images)[0]
    n, d, window = self._max_steps, self._z_what_size, self._window_size

    def zeros(*shape):
      return tf.zeros(tf.stack([batch_size, n, *shape]))

    posterior = Posterior(
        z_pres=zeros(), z_pres_logits=zeros(), z_where=zeros(3),
        z_where_loc=zeros(3), z_where_scale=zeros(3) + 1.0, z_what=zeros(d),
        z_what_loc=zeros(d), z_what_scale=zeros(d) + 1.0)
    latents_size = 3 + d + 1
    # Without DAIR every step sees the same image: project it once.
    image_gates = None if self._dair else self._lstm.project_context(
        self._embed(images), latents_size)

    def step(i, state, canvas, prev_pres, prev_where, prev_what, posterior,
             objects):
      residual = images - canvas
      if self._dair:
        gates = self._lstm.project_context(self._embed(residual),
                                           latents_size)
      else:
        gates = image_gates
      latents = tf.concat([prev_where, prev_what, prev_pres[:, tf.newaxis]],
                          axis=1)
      hidden, state = self._lstm.step(gates, latents, state)

      head = self._pres_where_head(hidden)
      pres_logits = held_unless(learn_presence,
                                self._floor_logits(head[:, 0]))
      where_loc = self._z_where_prior_loc + self._bound_where(head[:, 1:4])
      if self._window_centring:
        where_loc = centre_windows_on_ink(residual, where_loc,
                                          self._window_centring)
      where_scale = tf.nn.softplus(head[:, 4:7]) * self._z_where_std_unit
      if sample:
        pres_seed, where_seed, what_seed = tfp.random.split_seed(
            tf.random.experimental.stateless_fold_in(seed, i), n=3)
        if relaxed_temperature is None:
          pres = draw_presence(pres_logits, pres_seed, batch_part)
        else:
          pres = draw_relaxed_presence(pres_logits, relaxed_temperature,
                                       pres_seed, batch_part)
        where = draw_normal(where_loc, where_scale, where_seed, batch_part)
      else:
        pres = tf.cast(pres_logits > self._count_logit, tf.float32)
        where = where_loc
      if presence is not None:
        pres = tf.gather(presence, i, axis=1)
      pres = prev_pres * pres
      if given is not None:
        where = tf.gather(given[0], i, axis=1)
      if draws_as_values:
        where = tf.stop_gradient(where)

      glimpse = spatial_transformer.canvas_to_window(images, where, window)
      glimpse = tf.reshape(glimpse, [batch_size, window ** 2])
      what_params = self._glimpse_encoder(glimpse)
      what_loc = what_params[:, :d]
      what_scale = tf.nn.softplus(what_params[:, d:])
      if sample:
        what = draw_normal(what_loc, what_scale, what_seed, batch_part)
      else:
        what = what_loc
      if given is not None:
        what = tf.gather(given[1], i, axis=1)
      if draws_as_values:
        what = tf.stop_gradient(what)

      if self._dair:
        drawn = self._renderer.render_object(where, what)
        read = tf.stop_gradient(drawn) if draws_as_values else drawn
        canvas += pres[:, tf.newaxis, tf.newaxis] * read
        objects = write_step(objects, i, drawn)
      posterior = Posterior(*[
          write_step(accumulator, i, value) for accumulator, value in zip(
              posterior, (pres, pres_logits, where, where_loc, where_scale,
                          what, what_loc, what_scale))])
      return i + 1, state, canvas, pres, where, what, posterior, objects

    def not_done(i, state, canvas, prev_pres, *unused):
      return tf.logical_and(i < n, tf.reduce_any(prev_pres > 0.0))

    objects = (tf.zeros(tf.concat([[batch_size, n], tf.shape(images)[1:]], 0))
               if self._dair else tf.zeros([]))
    loop_vars = (tf.constant(0), self._lstm.initial_state(batch_size),
                 tf.zeros_like(images), tf.ones([batch_size]),
                 tf.zeros([batch_size, 3]), tf.zeros([batch_size, d]),
                 posterior, objects)
    *_, posterior, objects = tf.while_loop(not_done, step, loop_vars,
                                           maximum_iterations=n)
    return posterior, objects if self._dair else None
