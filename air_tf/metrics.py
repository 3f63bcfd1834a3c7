"""How well AIR counts and explains held-out images."""

import dataclasses
from typing import Mapping, Sequence

import numpy as np
import tensorflow as tf

from air_tf import refinement
from air_tf import spatial_transformer
from air_tf import tabletop
from air_tf.model import AIR, elbo_of_count


def confusion_matrix(true_counts: np.ndarray, inferred_counts: np.ndarray,
                     max_count: int) -> np.ndarray:
  """`[max_count + 1, max_count + 1]` int64, rows true, columns inferred."""
  matrix = np.zeros([max_count + 1, max_count + 1], np.int64)
  np.add.at(matrix, (np.clip(true_counts, 0, max_count),
                     np.clip(inferred_counts, 0, max_count)), 1)
  return matrix


@dataclasses.dataclass
class Evaluation:
  """Held-out figures, means over images.

  Attributes:
    count_accuracy: fraction of images whose inferred count is right.
    confusion: true x inferred count matrix.
    mean_count: mean inferred count.
    elbo: mean single-sample ELBO (nats per image).
    iw_bound: mean K-sample importance-weighted bound, or None.
    iw_samples: K.
    inferred: the deterministic inference the counts came from
      (`Evaluator.infer` of every image), for pictures and object figures
      without inferring again.
  """
  count_accuracy: float
  confusion: np.ndarray
  mean_count: float
  elbo: float
  iw_bound: float | None = None
  iw_samples: int = 0
  inferred: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)


def object_figures(scenes: tabletop.TabletopScenes,
                   inferred: Mapping[str, np.ndarray]) -> dict[str, float]:
  """How well deterministic inference (`Evaluator.infer` of `scenes`'
  images) found the table-top objects of `scenes`
  (`tabletop.object_figures`)."""
  return tabletop.object_figures(scenes, inferred["z_pres"] > 0,
                                 inferred["z_where"],
                                 inferred["z_what"].argmax(-1))


class Evaluator:
  """Deterministic counting and sampled bounds on fixed images.

  Functions are traced once per evaluator and reused across calls.
  """

  def __init__(self, model: AIR, batch_size: int = 250):
    self._model = model
    self._batch_size = batch_size
    # Batches of several sizes (the last one of a set is shorter) share one
    # trace with an unknown batch dimension.
    self._infer = tf.function(
        lambda images, z_pres_prob, presence=None: model(
            images, z_pres_prob, sample=False, presence=presence),
        reduce_retracing=True, autograph=False)
    self._log_weights = tf.function(self._sampled_terms,
                                    reduce_retracing=True, autograph=False)
    self._count_elbos = tf.function(model.count_elbos, reduce_retracing=True,
                                    autograph=False)

  def _sampled_terms(self, images, z_pres_prob, seed, num_samples):
    repeated = tf.repeat(images, num_samples, axis=0)
    output = self._model(repeated, z_pres_prob, seed=seed)
    shape = [tf.shape(images)[0], num_samples]
    return (tf.reshape(output.elbo, shape),
            tf.reshape(output.log_weight, shape))

  def infer(self, images: np.ndarray, z_pres_prob: float):
    """Deterministic inference in batches; returns the `AIROutput`s' count,
    z_pres, z_where, z_what and reconstruction, concatenated as numpy
    arrays."""
    parts = {"count": [], "z_pres": [], "z_where": [], "z_what": [],
             "reconstruction": []}
    for start in range(0, len(images), self._batch_size):
      output = self._infer(tf.constant(images[start:start + self._batch_size]),
                           tf.constant(z_pres_prob, tf.float32))
      parts["count"].append(output.count.numpy())
      parts["z_pres"].append(output.posterior.z_pres.numpy())
      parts["z_where"].append(output.posterior.z_where.numpy())
      parts["z_what"].append(output.posterior.z_what.numpy())
      parts["reconstruction"].append(output.reconstruction.numpy())
    return {name: np.concatenate(values) for name, values in parts.items()}

  def last_object(self, images: np.ndarray, counts: np.ndarray,
                  z_pres_prob: float) -> dict[str, np.ndarray]:
    """What the last object of each image adds, by deterministic inference
    with as many steps present as the image has objects (t) against one
    fewer: where an image is counted short, whether the inference network
    proposed the missing object and the model declined it (its evidence
    below zero), or proposed none worth drawing (a small likelihood gain).

    Args:
      images: `[K, H, W]` float images in [0, 1].
      counts: `[K]` their true numbers of objects, t.
      z_pres_prob: the prior probability of one more object.

    Returns:
      "gain": `[K]` log p(x | z_1..t) - log p(x | z_1..t-1), nats;
      "cost": `[K]` KL(q(z_where_t) || p) + KL(q(z_what_t) || p);
      "evidence": `[K]` gain - cost + log p(t) - log p(t - 1), the
      difference of the two counts' ELBOs (`AIR.count_elbos`);
      NaN where t = 0 or t exceeds the inference steps. "reconstruction",
      "z_pres", "z_where", "z_what": the inference with t steps present
      (`[K, ...]`), for pictures.
    """
    max_steps = self._model.config.max_steps
    last = np.clip(counts, 1, max_steps)
    count_prior = self._model.prior.count(z_pres_prob)
    parts = {name: [] for name in ("gain", "cost", "evidence",
                                   "reconstruction", "z_pres", "z_where",
                                   "z_what")}
    for start in range(0, len(images), self._batch_size):
      batch = tf.constant(images[start:start + self._batch_size])
      steps = last[start:start + self._batch_size]
      fewer, all_present = [
          self._infer(batch, tf.constant(z_pres_prob, tf.float32),
                      tf.sequence_mask(present, max_steps, dtype=tf.float32))
          for present in (steps - 1, steps)]
      step_of_last = tf.one_hot(steps - 1, max_steps)
      parts["gain"].append(
          (all_present.log_likelihood - fewer.log_likelihood).numpy())
      parts["cost"].append(tf.reduce_sum(
          step_of_last * (all_present.kl_where + all_present.kl_what),
          axis=1).numpy())
      parts["evidence"].append(
          (elbo_of_count(all_present, steps, count_prior) -
           elbo_of_count(fewer, steps - 1, count_prior)).numpy())
      parts["reconstruction"].append(all_present.reconstruction.numpy())
      for name in ("z_pres", "z_where", "z_what"):
        parts[name].append(getattr(all_present.posterior, name).numpy())
    result = {name: np.concatenate(values) for name, values in parts.items()}
    undefined = (counts < 1) | (counts > max_steps)
    for name in ("gain", "cost", "evidence"):
      result[name][undefined] = np.nan
    return result

  def truth_preference(self, images: np.ndarray, counts: np.ndarray,
                       boxes: np.ndarray, z_pres_prob: float,
                       refinement_steps: int,
                       enlargements: Sequence[float] = (1.0, 1.25, 1.5),
                       seed: int = 0) -> dict[str, np.ndarray]:
    """Does the model prefer each image's true count t to t - 1 once
    inference is handed the object it would miss, and every latent is
    refined per image? Then a better proposal could count it right.

    Steps 1..t-1 are q's (deterministic, t - 1 present). Step t's window is
    put on the true ink box that those windows cover least, at each of
    `enlargements` times its longer side, with the z_what q's glimpse
    encoder reads there and step 1's scales. Both counts' latents are
    refined (`refinement.refine`) and scored by `refinement.count_elbo`
    (16 draws), t objects by their best enlargement.

    Args:
      images: `[K, H, W]` float images in [0, 1].
      counts: `[K]` their true numbers of objects, t.
      boxes: `[K, M, 4]` the objects' ink boxes, (ymin, xmin, ymax, xmax)
        pixel edges, the first t of each image real.
      z_pres_prob: the prior probability of one more object.
      refinement_steps: Adam steps on each count's latents.
      enlargements: the window sides tried, over the box's longer side.
      seed: of the draws.

    Returns:
      "start_margin", "margin": `[K]` the ELBO of t objects minus that of
      t - 1, before and after refinement (nats); NaN where t = 0 or t
      exceeds the inference steps.
    """
    model = self._model
    max_steps = model.config.max_steps
    last = np.clip(counts, 1, max_steps)
    parts = {"start_margin": [], "margin": []}
    for start in range(0, len(images), self._batch_size):
      window = slice(start, start + self._batch_size)
      batch, steps = tf.constant(images[window]), last[window]
      fewer, present = [tf.sequence_mask(n, max_steps, dtype=tf.float32)
                        for n in (steps - 1, steps)]
      posterior = self._infer(batch, tf.constant(z_pres_prob, tf.float32),
                              fewer).posterior
      missed = _least_covered_boxes(
          model.object_boxes(posterior.z_where, posterior.z_what).numpy(),
          fewer.numpy() > 0, boxes[window], steps)
      at_step = tf.one_hot(steps - 1, max_steps)[..., tf.newaxis] > 0
      # Step t's scales start as step 1's.
      first_step = lambda scale: tf.where(at_step, scale[:, :1], scale)
      # t - 1 objects as q has them, then t objects at each enlargement:
      # one batch, refined and scored together.
      starts = [refinement.GaussianLatents(
          posterior.z_where_loc, posterior.z_where_scale,
          posterior.z_what_loc, posterior.z_what_scale)]
      for enlarge in enlargements:
        target = spatial_transformer.z_where_of_boxes(
            missed, model.config.canvas_size, enlarge)[:, tf.newaxis]
        z_where = tf.where(at_step, target, posterior.z_where_loc)
        read = model.inference(batch, sample=False, presence=present,
                               given=(z_where, posterior.z_what_loc))
        starts.append(refinement.GaussianLatents(
            z_where, first_step(posterior.z_where_scale),
            tf.where(at_step, read.z_what_loc, posterior.z_what_loc),
            first_step(posterior.z_what_scale)))
      hypotheses = 1 + len(enlargements)
      every_image = tf.tile(batch, [hypotheses, 1, 1])
      every_presence = tf.concat([fewer] + [present] * len(enlargements), 0)
      every_start = refinement.GaussianLatents(*[
          tf.concat(values, 0) for values in zip(*starts)])
      every_refined = refinement.refine(model, every_image, every_presence, every_start,
                                    z_pres_prob, refinement_steps, seed=seed)
      for name, latents in (("start_margin", every_start),
                            ("margin", every_refined)):
        elbos = tf.reshape(refinement.count_elbo(
            model, every_image, every_presence, latents, z_pres_prob,
            tf.constant([seed, 1]), 16), [hypotheses, -1]).numpy()
        parts[name].append(elbos[1:].max(axis=0) - elbos[0])
    result = {name: np.concatenate(values) for name, values in parts.items()}
    undefined = (counts < 1) | (counts > max_steps)
    for values in result.values():
      values[undefined] = np.nan
    return result

  def count_by_elbo(self, images: np.ndarray,
                    z_pres_prob: float) -> np.ndarray:
    """`[K]` the count whose ELBO is highest (`AIR.count_elbos`) for each
    of `[K, H, W]` float images."""
    return np.concatenate([
        self._count_elbos(tf.constant(images[start:start + self._batch_size]),
                          tf.constant(z_pres_prob, tf.float32)).numpy()
        for start in range(0, len(images), self._batch_size)]).argmax(1)

  def count(self, images: np.ndarray, counts: np.ndarray,
            z_pres_prob: float,
            by_elbo: bool = False) -> tuple[float, np.ndarray]:
    """(count accuracy, true x inferred confusion matrix) on `[K, H, W]`
    float images with true `[K]` counts, counted by deterministic inference
    (q(z_pres) above the model's count threshold) or, if
    `by_elbo`, by the count of highest ELBO."""
    inferred = (self.count_by_elbo(images, z_pres_prob) if by_elbo else
                self.infer(images, z_pres_prob)["count"])
    return self._scored(counts, inferred)

  def _scored(self, counts: np.ndarray,
              inferred: np.ndarray) -> tuple[float, np.ndarray]:
    """(accuracy, confusion matrix) of `[K]` inferred counts."""
    confusion = confusion_matrix(counts, inferred,
                                 self._model.config.max_steps)
    return float(np.mean(inferred == counts)), confusion

  def __call__(self, images: np.ndarray, counts: np.ndarray,
               z_pres_prob: float, seed: int = 0,
               iw_samples: int = 0) -> Evaluation:
    """Evaluates on `[K, H, W]` float images with true `[K]` counts.

    Args:
      images: held-out images in [0, 1].
      counts: their true object counts.
      z_pres_prob: the prior's z_pres probability the bounds are under.
      seed: seed of the sampled bounds.
      iw_samples: K of the importance-weighted bound; 0 skips it.

    Returns:
      The `Evaluation`.
    """
    inferred = self.infer(images, z_pres_prob)
    accuracy, confusion = self._scored(counts, inferred["count"])
    num_samples = max(iw_samples, 1)
    chunk = max(1, self._batch_size // num_samples)
    elbos, bounds = [], []
    for start in range(0, len(images), chunk):
      elbo, log_weight = self._log_weights(
          tf.constant(images[start:start + chunk]),
          tf.constant(z_pres_prob, tf.float32),
          tf.constant([seed, start], tf.int32), num_samples)
      elbos.append(elbo.numpy()[:, 0])
      bounds.append(tf.reduce_logsumexp(log_weight, axis=1).numpy() -
                    np.log(num_samples))
    return Evaluation(
        count_accuracy=accuracy, confusion=confusion,
        mean_count=float(confusion.sum(0) @ np.arange(len(confusion)) /
                         len(images)),
        elbo=float(np.mean(np.concatenate(elbos))),
        iw_bound=float(np.mean(np.concatenate(bounds))) if iw_samples else None,
        iw_samples=iw_samples, inferred=inferred)


def _least_covered_boxes(windows: np.ndarray, present: np.ndarray,
                         boxes: np.ndarray, counts: np.ndarray) -> np.ndarray:
  """`[B, 4]` of each image's first `counts` `[B]` boxes `[B, M, 4]`, the
  one whose area the present windows `[B, N, 4]` (`present` `[B, N]`)
  cover least (each window's share of the box, the largest)."""
  low = np.maximum(windows[:, :, None, :2], boxes[:, None, :, :2])
  high = np.minimum(windows[:, :, None, 2:], boxes[:, None, :, 2:])
  overlap = np.prod(np.clip(high - low, 0, None), axis=-1)  # [B, N, M]
  area = np.prod(boxes[..., 2:] - boxes[..., :2], axis=-1)  # [B, M]
  share = np.where(present[:, :, None], overlap, 0).max(axis=1) / np.maximum(
      area, 1e-6)
  share[np.arange(boxes.shape[1])[None] >= counts[:, None]] = np.inf
  return boxes[np.arange(len(boxes)), share.argmin(axis=1)]


def first_reaching(records: Sequence[Mapping[str, float]], key: str,
                   threshold: float) -> Mapping[str, float] | None:
  """The first record (in order) whose `key` is >= `threshold`, or None.

  Args:
    records: evaluation records in training order, such as the lines of
      `eval.jsonl` written by `experiments/train.py`.
    key: the figure to compare, such as "count_accuracy".
    threshold: the value to reach.
  """
  for record in records:
    if record[key] >= threshold:
      return record
  return None


def training_minutes(times: Sequence[float],
                     launches: Sequence[float]) -> list[float]:
  """Wall-clock minutes of training up to each of `times`.

  A run that was interrupted and resumed has several launches: the time
  between one launch's last record and the next launch (downtime, and work
  lost after that record) is left out.

  Args:
    times: increasing Unix times of the records, such as evaluations.
    launches: increasing Unix times at which the run was (re)started; the
      first is at or before the first record.

  Returns:
    One value per record: time since its launch plus the time from each
    earlier launch to that launch's last record.
  """
  if times and (not launches or launches[0] > times[0]):
    raise ValueError(f"The first launch ({launches[:1]}) must come at or "
                     f"before the first record ({times[0]}).")
  minutes, earlier, launch_index = [], 0.0, 0
  last_record = launches[0] if launches else 0.0
  for time in times:
    while (launch_index + 1 < len(launches) and
           launches[launch_index + 1] <= time):
      earlier += last_record - launches[launch_index]
      launch_index += 1
      last_record = launches[launch_index]
    minutes.append((earlier + time - launches[launch_index]) / 60)
    last_record = time
  return minutes
