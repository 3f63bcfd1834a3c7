"""A trained run's final evaluation on held-out scenes.

What `experiments/evaluate.py` reports and what `experiments/sweep.py` and
`experiments/generalisation.py` record for each of their runs, computed in
the calling process: the held-out scenes are drawn like those the run was
tested on during training (its data.json), from objects no training scene
uses, and independently of the ones training watched.
"""

import dataclasses
import os
from typing import Optional

import numpy as np

from air_tf import datasets
from air_tf import logdir as logdir_lib
from air_tf import metrics
from air_tf import tabletop
from air_tf import visualisation
from air_tf.model import AIR


@dataclasses.dataclass(frozen=True)
class EvaluationConfig:
  """What a final evaluation counts and writes.

  Attributes:
    num_images: Held-out scenes to count (of each variant too).
    test_counts: Numbers of objects in the held-out scenes; default: those
      the run was tested on.
    max_steps: Inference steps; default: the trained number. More lets a
      model trained on 0-2 objects try to find 3.
    count_threshold: q(z_pres) above which deterministic inference counts
      an object (`AIRConfig.count_threshold`); default: the run's.
    count_by_flips: Whether deterministic inference counts by a vote over
      each image's mirror images (`AIRConfig.count_by_flips`); default:
      as the run does.
    count_by_zooms: Whether that vote also counts each image zoomed out
      and in (`AIRConfig.count_by_zooms`); default: as the run does.
    data_seed: Draws the held-out scenes (and variants) of a run with this
      data seed, e.g. to score models trained on different scenes on the
      same ones; default: the run's own.
    digit_sizes: (min, max) side in pixels of the held-out multi-MNIST
      scenes' digits (not of the size bands, which fix their own), e.g.
      to count a model trained on other sizes on the default's; default:
      the run's own.
    scene_renderer: What draws table-top held-out scenes; default: what
      drew the run's (mujoco: the same scenes as MuJoCo pictures them, for
      a model trained on air_tf's renderer).
    z_pres_prior: Prior probability of one more object that the bounds are
      computed under; default: the one the run's training reached at its
      checkpoint.
    iw_samples: K of the importance-weighted bound; 0 skips it.
    iw_images: Images the K-sample bound uses (at most num_images); 0 skips
      it.
    variants: Also count held-out multi-MNIST scenes of each digit-size
      band and of Pyro's layout (num_images each).
    count_by_elbo: Also count each image by the count of highest ELBO
      (`AIR.count_elbos`): where that counts better than q(z_pres), the
      inference network, not the model, gets the count wrong.
    png: Writes example reconstructions here; default: LOGDIR/examples.png.
    num_examples: Examples in the PNG; 0: no PNG.
    undercounted_examples: Also asks of the held-out scenes counted short
      whether the inference network proposed the object it missed and the
      model declined it, or proposed nothing worth drawing
      (`metrics.Evaluator.last_object`, against the scenes counted right),
      and pictures this many of them with as many steps present as they
      have objects, in LOGDIR/undercounted.png; 0: neither.
    truth_refinement_steps: Also asks of the held-out scenes counted short
      (and as many counted right) whether the model prefers the true
      count once inference is handed the true box of the object it missed
      and each count's latents are refined this many Adam steps per image
      (`metrics.Evaluator.truth_preference`): where it does, a better
      proposal would count them right; where it does not, the model
      itself prefers fewer objects. At most `TRUTH_SCENES` of each; 0: not
      asked.
  """
  num_images: int = 10000
  test_counts: Optional[tuple[int, ...]] = None
  max_steps: Optional[int] = None
  count_threshold: Optional[float] = None
  count_by_flips: Optional[bool] = None
  count_by_zooms: Optional[bool] = None
  data_seed: Optional[int] = None
  digit_sizes: Optional[tuple[int, int]] = None
  scene_renderer: Optional[str] = None
  z_pres_prior: Optional[float] = None
  iw_samples: int = 100
  iw_images: int = 1000
  variants: bool = True
  count_by_elbo: bool = True
  png: Optional[str] = None
  num_examples: int = 16
  undercounted_examples: int = 0
  truth_refinement_steps: int = 0

  def __post_init__(self):
    for name, least in (("num_images", 1), ("max_steps", 1), ("data_seed", 0),
                        ("iw_samples", 0), ("iw_images", 0),
                        ("num_examples", 0), ("undercounted_examples", 0),
                        ("truth_refinement_steps", 0)):
      value = getattr(self, name)
      if value is not None and value < least:
        raise ValueError(f"{name} must be >= {least}, got {value}.")
    if self.test_counts is not None and (
        not self.test_counts or min(self.test_counts) < 0):
      raise ValueError(f"test_counts must be non-negative numbers of "
                       f"objects, got {self.test_counts}.")
    for name in ("z_pres_prior", "count_threshold"):
      value = getattr(self, name)
      if value is not None and not 0 < value < 1:
        raise ValueError(f"{name} must be in (0, 1), got {value}.")
    # digit_sizes, scene_renderer: checked by the run's DataConfig they
    # replace.


# At most this many scenes of each kind are refined per image
# (`EvaluationConfig.truth_refinement_steps`), for time.
TRUTH_SCENES = 200


class FinalEvaluation:
  """The evaluation of a run's latest checkpoint: restored and checked when
  built, so that a wrong logdir or configuration fails before any work;
  computed when called."""

  def __init__(self, logdir: str, config: EvaluationConfig):
    """Restores the run and draws its held-out scenes.

    Args:
      logdir: a training logdir of `experiments/train.py`.
      config: what to count and write.

    Raises:
      FileNotFoundError, ValueError: `logdir` is not a trained run, or
        `config` does not fit it.
    """
    self._logdir, self._config = logdir, config
    self._model, self._step, self._checkpoint = logdir_lib.restore_model(
        logdir, config.max_steps, config.count_threshold,
        config.count_by_flips, config.count_by_zooms)
    if config.truth_refinement_steps and not isinstance(self._model, AIR):
      raise ValueError(f"truth_refinement_steps refines the 2D model's "
                       f"latents; {logdir} holds a "
                       f"{type(self._model).__name__}.")
    self._prior = (logdir_lib.final_z_pres_prior(logdir, self._step)
                   if config.z_pres_prior is None else config.z_pres_prior)
    run_data = logdir_lib.load_config(logdir, datasets.DataConfig)
    if config.data_seed is not None:
      run_data = dataclasses.replace(run_data, data_seed=config.data_seed)
    data_config = datasets.final_evaluation_config(run_data)
    for name in ("test_counts", "digit_sizes", "scene_renderer"):
      if getattr(config, name) is not None:
        data_config = dataclasses.replace(data_config,
                                          **{name: getattr(config, name)})
    self._data_config = data_config
    _, self._test = datasets.make_scenes(data_config, 0, config.num_images,
                                         self._model.config.canvas_size[0])

  def __call__(self) -> dict:
    """Evaluates, printing each figure.

    Returns:
      The figures as JSON-compatible values: step, z_pres_prior,
      count_accuracy, confusion ([C, C], rows the true count), mean_count,
      elbo, iw_bound (None when skipped), iw_samples, iw_images, the counts
      by ELBO, the table-top object figures and one entry per variant.
    """
    config, model, prior, test = (self._config, self._model, self._prior,
                                  self._test)
    iw_images = min(config.iw_images, config.num_images)
    images = test.float_images()
    evaluator = metrics.Evaluator(model)
    result = evaluator(images, test.counts, prior)
    if config.iw_samples and iw_images:
      bounds = evaluator(images[:iw_images], test.counts[:iw_images], prior,
                         iw_samples=config.iw_samples)
      result.iw_bound, result.iw_samples = bounds.iw_bound, config.iw_samples
    print(f"checkpoint: {self._checkpoint} (step {self._step}); prior "
          f"probability of one more object {prior:.3g}")
    print(f"count accuracy: {result.count_accuracy:.4f} on {len(images)} "
          f"images; mean count {result.mean_count:.3f}")
    print("confusion (rows: true count, columns: inferred count):")
    print(result.confusion)

    def counted_by_elbo(images: np.ndarray, counts: np.ndarray) -> dict:
      if not config.count_by_elbo:
        return {}
      accuracy, confusion = evaluator.count(images, counts, prior,
                                            by_elbo=True)
      print(f"  counted by the ELBO of each count: accuracy "
            f"{accuracy:.4f}; confusion {confusion.tolist()}")
      return {"elbo_count_accuracy": accuracy,
              "elbo_confusion": confusion.tolist()}

    by_elbo = counted_by_elbo(images, test.counts)
    print(f"ELBO: {result.elbo:.2f} nats/image")
    if result.iw_bound is not None:
      print(f"{result.iw_samples}-sample IW bound: {result.iw_bound:.2f} "
            f"nats/image (first {iw_images} images)")
    objects = (metrics.object_figures(test, result.inferred)
               if isinstance(test, tabletop.TabletopScenes) else {})
    for name, value in objects.items():
      print(f"{name}: {value:.4g}")
    undercounted = (self._undercounted(evaluator, images, test.counts,
                                       result.inferred["count"])
                    if config.undercounted_examples else {})
    truth = (self._truth_preference(evaluator, images, test,
                                    result.inferred["count"])
             if config.truth_refinement_steps else {})
    variants = {}
    if config.variants:
      for name, variant in datasets.held_out_variants(
          self._data_config).items():
        _, scenes = datasets.make_scenes(variant, 0, config.num_images,
                                         model.config.canvas_size[0])
        variant_images = scenes.float_images()
        accuracy, confusion = evaluator.count(variant_images, scenes.counts,
                                              prior)
        print(f"{name}: count accuracy {accuracy:.4f}; confusion "
              f"{confusion.tolist()}")
        variants[name] = {"count_accuracy": accuracy,
                          "confusion": confusion.tolist(),
                          **counted_by_elbo(variant_images, scenes.counts)}
    if config.num_examples:
      shown = {name: value[:config.num_examples]
               for name, value in result.inferred.items()}
      boxes = model.object_boxes(shown["z_where"], shown["z_what"]).numpy()
      png = config.png or os.path.join(self._logdir, "examples.png")
      visualisation.write_png(png, visualisation.comparison_grid(
          images[:config.num_examples], shown["reconstruction"], boxes,
          shown["z_pres"] > 0))
      print(f"examples: {png}", flush=True)
    return {
        "step": self._step, "z_pres_prior": prior,
        "count_accuracy": result.count_accuracy,
        "confusion": result.confusion.tolist(),
        "mean_count": result.mean_count, "elbo": result.elbo,
        "iw_bound": result.iw_bound, "iw_samples": result.iw_samples,
        "iw_images": iw_images if result.iw_bound is not None else 0,
        **by_elbo, **objects, **undercounted, **truth, "variants": variants}

  def _truth_preference(self, evaluator: metrics.Evaluator,
                        images: np.ndarray, test, inferred: np.ndarray
                        ) -> dict:
    """Whether the model prefers the true count of the scenes counted
    short, and of as many counted right, with inference handed the truth."""
    figures = {}
    for name, scenes in (("undercounted", inferred < test.counts),
                         ("counted_right", inferred == test.counts)):
      chosen = np.flatnonzero(scenes & (test.counts >= 1))[:TRUTH_SCENES]
      figures[name] = {"scenes": int(chosen.size)}
      if not chosen.size:
        continue
      preference = evaluator.truth_preference(
          images[chosen], test.counts[chosen], test.boxes[chosen],
          self._prior, self._config.truth_refinement_steps)
      figures[name].update(
          preferred_at_start=float(np.mean(preference["start_margin"] > 0)),
          preferred=float(np.mean(preference["margin"] > 0)),
          median_margin=float(np.median(preference["margin"])))
      print(f"{name.replace('_', ' ')} ({chosen.size} scenes), the missed "
            f"object's window on its true box: the true count scores higher "
            f"in {figures[name]['preferred_at_start']:.1%} of them, after "
            f"{self._config.truth_refinement_steps} Adam steps per image in "
            f"{figures[name]['preferred']:.1%} (median margin "
            f"{figures[name]['median_margin']:.1f} nats)")
    return {"truth_preference": figures}

  def _undercounted(self, evaluator: metrics.Evaluator, images: np.ndarray,
                    counts: np.ndarray, inferred: np.ndarray) -> dict:
    """What the last object of the scenes counted short adds, against the
    scenes counted right, and a picture of the first of them."""
    last = evaluator.last_object(images, counts, self._prior)
    figures, defined = {}, np.isfinite(last["evidence"])
    for name, scenes in (("undercounted", (inferred < counts) & defined),
                         ("counted_right", (inferred == counts) & defined)):
      figures[name] = {"scenes": int(scenes.sum())}
      if not scenes.any():
        continue
      figures[name].update(
          median_gain=float(np.median(last["gain"][scenes])),
          median_cost=float(np.median(last["cost"][scenes])),
          declined=float(np.mean(last["evidence"][scenes] < 0)))
      print(f"{name.replace('_', ' ')} ({scenes.sum()} scenes): the last "
            f"object adds {figures[name]['median_gain']:.1f} nats of "
            f"likelihood for {figures[name]['median_cost']:.1f} of KL "
            f"(medians); one object fewer scores higher in "
            f"{figures[name]['declined']:.1%} of them")
    shown = np.flatnonzero((inferred < counts) & defined)[
        :self._config.undercounted_examples]
    if shown.size:
      boxes = self._model.object_boxes(last["z_where"][shown],
                                       last["z_what"][shown]).numpy()
      png = os.path.join(self._logdir, "undercounted.png")
      visualisation.write_png(png, visualisation.comparison_grid(
          images[shown], last["reconstruction"][shown], boxes,
          last["z_pres"][shown] > 0))
      print(f"scenes counted short, as many steps present as objects: {png}")
    return {"last_object": figures}
