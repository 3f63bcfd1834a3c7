"""The configuration that fixes an AIR model's architecture."""

import dataclasses
import json
from typing import Any, Optional

from air_tf.renderer import LIKELIHOODS


class JsonConfig:
  """A configuration dataclass that is saved with a run as JSON."""

  def to_json(self) -> str:
    return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

  @classmethod
  def from_json(cls, text: str):
    """Rebuilds the configuration from its `to_json()` text, or from that
    of a run an earlier air_tf recorded (`_upgrade`)."""
    return dataclass_from_fields(cls, cls._upgrade(json.loads(text)))

  @classmethod
  def _upgrade(cls, fields: dict[str, Any]) -> dict[str, Any]:
    """A recorded run's fields as today's fields say the same run."""
    return fields


# Fields whose default changed, with the value they took before: a run
# recorded before a field was written was built with that value.
_AIR_VALUES_BEFORE_RECORDED = {"reader_square_root": False,
                               "count_threshold": 0.5,
                               "count_by_flips": False}


@dataclasses.dataclass(frozen=True)
class AIRConfig(JsonConfig):
  """Architecture of an AIR model: everything a checkpoint depends on.

  Attributes:
    canvas_size: (H, W) of the images.
    max_steps: N, the largest number of objects.
    z_what_size: size of each object's appearance code.
    window_size: side of the glimpse (and of the decoded object image,
      unless `object_size` sets it). 28
      draws a full-size MNIST digit at its own resolution: with 20 (the
      public reproductions'), full-size digits cramped in their windows
      were split in two (5 seeds on scenes not used to choose it: 28 px
      digits 97.6% against 96.2%, all digits 96.9% against 96.7%;
      docs/RESULTS.md, issue 13).
    object_size: side of the object image the decoder draws, which the
      spatial transformer stretches over the object's window; None: the
      window's `window_size`. Below it, the drawing's detail is fixed
      relative to the window, as a digit's is relative to its size: a
      window drawing two small digits then draws each with that many
      fewer pixels, so the composite costs likelihood where a single
      digit of any size does not. 14, one seed: 97.52% of README's
      held-out scenes against the default's 97.54%, as many pairs
      counted as one (docs/RESULTS.md, issue 13): few are composites.
    area_rendering: each canvas pixel is the mean of the decoded object
      over the pixel's area, not the object's value at the pixel's
      centre. A window narrower in canvas pixels than the object image
      otherwise reads the drawing at about every other pixel, which ones
      set by its sub-pixel position, and thin strokes flicker in and
      out; the multi-MNIST scenes' small
      digits are area means of MNIST's. One seed: a 100-sample bound 5
      nats higher, and 97.57% of README's held-out scenes counted right
      against the default's 97.54% (docs/RESULTS.md, issue 13).
    lstm_size: units of the inference LSTM.
    encoder_hidden: hidden sizes of the glimpse encoder MLP. Two layers
      of 400, as the decoder's, trained 20,000 steps
      (`training_loop.Schedule`), rather than one of 200 for 10,000
      steps: by a rule written down before its runs, ten seeds a path
      on the seed table's scenes counted better (XLA 98.89 → 99.18%,
      no XLA 98.89 → 99.22%), every run >= 99%, the smallest and the
      full-size digits and Pyro's layout higher, 98% first watched
      after 3.1-3.8 minutes on 2 cores; a run takes twice as long
      (docs/RESULTS.md, issue 13).
    decoder_hidden: hidden sizes of the object decoder MLP (see
      `encoder_hidden`).
    image_encoder_hidden: hidden sizes of the MLP that embeds the image (or,
      with DAIR, the residual) before the LSTM; empty feeds the raw pixels.
    image_encoder_channels: channels of strided 3x3 convolutions (ReLU,
      stride 2) the image (with DAIR, the residual) passes before the
      embedding MLP; empty: the MLP reads the pixels.
    image_convolution_step_scale: c: the convolutions' weights are c times
      the optimiser's variables, so each of Adam's steps moves them c times
      as far (they read every place at once).
    reader_square_root: q's reader (the embedding of the image, with DAIR
      of each residual) sees `inference.salient_ink` of its pixels,
      sign(x) sqrt(|x| + 0.01), instead of x: faint ink weighs nearly as
      much as strong ink, and every pixel's sign, where the drawing so
      far is above or below the image, reads as at least 0.1. The
      glimpse, the model and the cost are unchanged. On by default: on
      scenes no choice of it looked at, ten seeds, XLA: mean 97.88%, min
      97.48%, better than the plain reader's same run in 9 of 10;
      without XLA: mean 97.83%, min 97.21% (docs/RESULTS.md, issue 13).
      Runs recorded before the field existed read plain pixels.
    baseline_lstm_size: units of the NVIL baseline's own LSTM.
    baseline_hidden: hidden sizes of the MLP on top of it.
    dair: whether inference sees image minus the reconstruction so far
      (DAIR). On by default: without it, a second step that learnt early
      to stay off has nothing telling it where the unexplained digit is,
      and in 2 of 4 seeds it never came back (docs/RESULTS.md, issue 13);
      with it, every step reads what is left, and the weights that taught
      step 1 to find a digit find the next one.
    likelihood: "normal" (fixed std `likelihood_std`) or "bernoulli".
    likelihood_std: pixel standard deviation of the normal likelihood
      (where the canvas is ink, with `likelihood_background_std`).
    likelihood_background_std: the normal likelihood's standard deviation
      where the canvas is empty, interpolated linearly in the canvas up to
      `likelihood_std` where it is ink; None: `likelihood_std` everywhere.
      Meant to make a faint small digit left out cost more; at 0.15 the
      strokes an imperfect drawing leaves beside a digit cost more too, and
      a probe split single digits (90.5% at step 8,000 against 98.2%;
      docs/RESULTS.md, issue 13). 0.2 with `area_rendering` and
      `ink_contact_cost=10`: 97.82% of README's held-out scenes (seed 0),
      but on scenes no choice looked at one seed of two counted one
      object too many from step 6,000 on (81.26%).
    likelihood_std_kernel: k > 0: each pixel's std is learnt from the
      k x k canvas around it (a convolution of the canvas), between
      `likelihood_background_std` (needed) and `likelihood_std`, so that
      the model itself learns where its drawings tend to be off (beside
      the strokes it draws) and how sure empty canvas is; 0: fixed. It
      starts as the interpolated std. With 5, 0.2, `area_rendering` and
      `ink_contact_cost=10` the models learnt 0.20 on all empty canvas,
      beside strokes too, and counted scenes no choice looked at mean
      96.06%, min 85.32%, 3 of 7 runs >= 98% (two paths): one run split
      single digits (docs/RESULTS.md, issue 13).
    decoder_output_bias: added to the decoder logits before the sigmoid, so
      that objects start almost empty.
    z_where_prior_loc: prior mean of (scale, x, y).
    z_where_prior_scale: prior standard deviation of (scale, x, y). The
      zoom factor's 0.4 lets windows of canvas / (3 +- 0.8), 12-23 px on
      50x50, cost at most 2 nats more than the mean: the ink of digits
      from 14 to 28 px (issue 13: at 0.2, a window for a full-size digit
      cost 8 nats, and models trained on ~15 px ink counted a fifth of
      full-size single digits as two).
    z_what_prior_components: K; 0: p(z_what) = Normal(0, I), the
      paper's; K > 0: a mixture of K diagonal normals learnt with the
      model (its KL estimated at the draw), so that the codes of common
      objects cost fewer nats than those of rare ones: one window drawing
      two small digits, or half of a full-size digit. 16 components, two
      seeds: 97.28% of README's held-out scenes against the default's
      97.29%, as many pairs counted as one (docs/RESULTS.md, issue 13).
    ink_contact_cost: nats the prior charges per unit of ink an object
      draws on or beside the ink of the objects before it
      (`renderer.ink_contact`), an unnormalised factor
      exp(-cost * contact) of p(z): the multi-MNIST scenes' digits never
      touch, so two objects that share one digit's strokes explain the
      image with a scene the data never holds. 0: off (the paper's
      prior); not meant for layouts whose objects overlap. With
      `likelihood_std=0.2` and `area_rendering`, 10 split fewer
      full-size digits than without it, but on scenes no choice looked
      at two seeds counted 97.56% against the default's 97.66%. At the
      default std 0.3 it switched the second step off within 700 steps
      in two probes of two, charging the blurred early drawings of two
      objects for touching (docs/RESULTS.md, issue 13).
    z_where_posterior_init_std: roughly the posterior std of (scale, x, y)
      of a fresh network (it is softplus(output) x this / softplus(0)).
      Enough spread for step 2 to stumble on the digit step 1 left: with
      0.05 it never left step 1's digit (docs/RESULTS.md, runs C-G); this
      is Pyro's starting spread (0.69 x its prior std, in canvas units).
    scale_range: the posterior mean of the zoom factor stays within
      z_where_prior_loc[0] +- scale_range (0: unbounded). It keeps one
      window from swallowing two objects, the local optimum where AIR
      counts every pair as one, and keeps the scale away from zero. 1.3
      lets a window (canvas / zoom) reach 29 px, a full-size digit's
      28 (with 1.0, 25 px, and full-size digits were split); two 14 px
      digits fit in it too, and a third of the pairs the default counts
      as one are such composites (docs/RESULTS.md, issue 13).
    position_range: the posterior mean of (x, y) stays within
      +-position_range (1: the object's centre is on the canvas; 0:
      unbounded). A window pushed off the canvas gets no gradient and its
      step never finds an object again.
    z_pres_floor: q(z_pres_i = 1) stays within [floor, 1 - floor], so that
      a step switched off early is still tried now and then. Off by
      default: the logits under the floor still saturate, and with them
      the gradient (docs/RESULTS.md, runs E-F).
    count_threshold: deterministic inference (counting, the held-out
      watch, export, annotation) counts step i's object where
      q(z_pres_i = 1) is above this; the training steps sample and no
      weight depends on it, so a trained run can be counted at another
      threshold (`evaluate.py`, `export.py --count_threshold`). q hedges
      on pairs of small digits and is sure when it splits a full-size
      one, so 0.025 counts more of those pairs than 0.5 (each step's
      more probable value) and splits a few more full-size digits; it
      was adopted by a rule set before its runs (docs/RESULTS.md, issue
      13). Runs recorded before it was a field were counted at 0.5 and
      still are.
    count_by_flips: deterministic inference counts each image by a vote
      over four passes, the image's own and its three mirror images'
      (`InferenceNetwork.infer_by_vote`); the image's own pass gives
      the objects under that count. A scene's count does not change when
      it is mirrored, but q's errors do, so the vote corrects many of
      them; it assumes q reads mirrored objects as well as the objects
      it was trained on, as it reads mirrored digits. No weight depends
      on it (`evaluate.py`, `export.py --count_by_flips`); it was adopted
      by a rule set before its runs (docs/RESULTS.md, issue 13). Runs
      recorded before it was a field count by their own pass, and still
      do.
    count_by_zooms: the vote (`count_by_flips`, needed) also counts the
      mirror images of the image zoomed out by 0.85 and of the image
      zoomed in about its ink (`inference.vote_passes`): twelve passes, so
      three times the work. q counts pairs of small digits better
      enlarged and full-size digits better shrunk: the seed table's
      twenty runs count better by 0.14-0.25 points (mean 98.91% with XLA,
      98.87% without, against 98.71 and 98.67%). No weight depends on it
      (`evaluate.py`, `export.py --count_by_zooms`). An option, by a rule
      set before its runs (docs/RESULTS.md, issue 13).
    window_centring: each step's window mean moves this fraction of the
      way to the centre of mass of the ink left inside the window (the
      residual's positive part; `inference.centre_windows_on_ink`)
      before its glimpse is read, in training and in counting alike. q
      splits full-size digits where its window cuts one (moved onto the
      ink after training, one model's windows split 28 of them, not
      142). 0.5, five seeds (XLA) on scenes no choice looked at: 28 px
      98.93% against the default's 98.26%, 14-18 px 98.49% against
      98.66%, Pyro's layout 97.73% against 97.89%, the count
      99.09% against 99.09% (docs/RESULTS.md, issue 13). 0: not
      moved.
  """
  canvas_size: tuple[int, int] = (50, 50)
  max_steps: int = 3
  z_what_size: int = 50
  window_size: int = 28
  object_size: Optional[int] = None
  area_rendering: bool = False
  lstm_size: int = 256
  encoder_hidden: tuple[int, ...] = (400, 400)
  decoder_hidden: tuple[int, ...] = (400, 400)
  image_encoder_hidden: tuple[int, ...] = (256,)
  image_encoder_channels: tuple[int, ...] = ()
  image_convolution_step_scale: float = 1.0
  reader_square_root: bool = True
  baseline_lstm_size: int = 256
  baseline_hidden: tuple[int, ...] = (200,)
  dair: bool = True
  likelihood: str = "normal"
  likelihood_std: float = 0.3
  likelihood_background_std: Optional[float] = None
  likelihood_std_kernel: int = 0
  decoder_output_bias: float = -2.0
  z_where_prior_loc: tuple[float, float, float] = (3.0, 0.0, 0.0)
  z_where_prior_scale: tuple[float, float, float] = (0.4, 1.0, 1.0)
  z_what_prior_components: int = 0
  ink_contact_cost: float = 0.0
  z_where_posterior_init_std: tuple[float, float, float] = (0.139, 0.229,
                                                           0.229)
  scale_range: float = 1.3
  position_range: float = 1.0
  z_pres_floor: float = 0.0
  count_threshold: float = 0.025
  count_by_flips: bool = True
  count_by_zooms: bool = False
  window_centring: float = 0.0

  @property
  def decoded_size(self) -> int:
    """Side of the object image the decoder draws."""
    return self.window_size if self.object_size is None else self.object_size

  @property
  def image_shape(self) -> tuple[int, ...]:
    """Shape of one image, `(H, W)`: grey."""
    return tuple(self.canvas_size)

  @classmethod
  def _upgrade(cls, fields: dict[str, Any]) -> dict[str, Any]:
    return {**_AIR_VALUES_BEFORE_RECORDED, **fields}

  def __post_init__(self):
    if len(self.canvas_size) != 2 or min(self.canvas_size) < 1:
      raise ValueError(f"canvas_size must be (H, W) with H, W >= 1, got "
                       f"{self.canvas_size}.")
    for name in ("max_steps", "z_what_size", "window_size", "lstm_size",
                 "baseline_lstm_size"):
      if getattr(self, name) < 1:
        raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}.")
    if self.object_size is not None and self.object_size < 1:
      raise ValueError(f"object_size must be None or >= 1, got "
                       f"{self.object_size}.")
    if self.z_what_prior_components < 0:
      raise ValueError(f"z_what_prior_components must be >= 0, got "
                       f"{self.z_what_prior_components}.")
    for name in ("encoder_hidden", "decoder_hidden", "image_encoder_hidden",
                 "image_encoder_channels", "baseline_hidden"):
      if any(size < 1 for size in getattr(self, name)):
        raise ValueError(f"{name} must be layer sizes >= 1, got "
                         f"{getattr(self, name)}.")
    if self.image_convolution_step_scale <= 0:
      raise ValueError(f"image_convolution_step_scale must be > 0, got "
                       f"{self.image_convolution_step_scale}.")
    if self.ink_contact_cost < 0:
      raise ValueError(f"ink_contact_cost must be >= 0, got "
                       f"{self.ink_contact_cost}.")
    if self.likelihood not in LIKELIHOODS:
      raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got "
                       f"{self.likelihood!r}.")
    if self.likelihood_std <= 0:
      raise ValueError(f"likelihood_std must be > 0, got "
                       f"{self.likelihood_std}.")
    if self.likelihood_background_std is not None and (
        self.likelihood_background_std <= 0 or self.likelihood != "normal"):
      raise ValueError(f"likelihood_background_std must be > 0 and needs "
                       f"likelihood='normal', got "
                       f"{self.likelihood_background_std} with "
                       f"likelihood={self.likelihood!r}.")
    if self.likelihood_std_kernel < 0 or (
        self.likelihood_std_kernel and self.likelihood_background_std is None):
      raise ValueError(f"likelihood_std_kernel must be >= 0, and > 0 needs "
                       f"a likelihood_background_std, got "
                       f"{self.likelihood_std_kernel} with "
                       f"likelihood_background_std="
                       f"{self.likelihood_background_std}.")
    if not 0 <= self.scale_range < self.z_where_prior_loc[0]:
      raise ValueError(f"scale_range must be in [0, {self.z_where_prior_loc[0]}"
                       f") so that scales stay positive, got "
                       f"{self.scale_range}.")
    if self.position_range < 0:
      raise ValueError(f"position_range must be >= 0, got "
                       f"{self.position_range}.")
    if not 0 <= self.z_pres_floor < 0.5:
      raise ValueError(f"z_pres_floor must be in [0, 0.5), got "
                       f"{self.z_pres_floor}.")
    if not 0 < self.count_threshold < 1:
      raise ValueError(f"count_threshold must be in (0, 1), got "
                       f"{self.count_threshold}.")
    if self.count_by_zooms and not self.count_by_flips:
      raise ValueError("count_by_zooms adds passes to the vote of "
                       "count_by_flips, which is off.")
    if not 0 <= self.window_centring <= 1:
      raise ValueError(f"window_centring must be in [0, 1], got "
                       f"{self.window_centring}.")
    if min(self.z_where_posterior_init_std) <= 0:
      raise ValueError(f"z_where_posterior_init_std must be > 0, got "
                       f"{self.z_where_posterior_init_std}.")
    if min(self.z_where_prior_scale) <= 0:
      raise ValueError(f"z_where_prior_scale must be > 0, got "
                       f"{self.z_where_prior_scale}.")


def dataclass_from_fields(cls, fields: dict[str, Any]):
  """Builds a configuration dataclass `cls` from its fields as JSON has
  them (lists for tuples), naming any field `cls` does not have."""
  known = sorted(field.name for field in dataclasses.fields(cls))
  unknown = sorted(set(fields) - set(known))
  if unknown:
    raise ValueError(f"Unknown {cls.__name__} fields {unknown}; expected a "
                     f"subset of {known}.")
  # JSON has no tuples: restore them so configs compare equal.
  return cls(**{name: tuple(value) if isinstance(value, list) else value
                for name, value in fields.items()})
