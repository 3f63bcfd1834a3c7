"""A run's final evaluation: its configuration's checks and its figures'
consistency with the scenes counted."""

import dataclasses
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from air_tf import datasets
from air_tf import evaluation
from air_tf import logdir
from air_tf.model import AIR
from air_tf.training import TrainConfig


@pytest.mark.parametrize("field, value, message", [
    ("num_images", 0, "num_images must be >= 1"),
    ("max_steps", 0, "max_steps must be >= 1"),
    ("iw_images", -1, "iw_images must be >= 0"),
    ("data_seed", -1, "data_seed must be >= 0"),
    ("test_counts", (2, -1), "test_counts must be non-negative"),
    ("test_counts", (), "test_counts must be non-negative"),
    ("z_pres_prior", 1.0, r"z_pres_prior must be in \(0, 1\)"),
    ("count_threshold", 0.0, r"count_threshold must be in \(0, 1\)"),
    ("truth_refinement_steps", -1, "truth_refinement_steps must be >= 0"),
])
def test_a_bad_configuration_says_what_is_wrong(field, value, message):
  with pytest.raises(ValueError, match=message):
    evaluation.EvaluationConfig(**{field: value})


def test_a_folder_without_a_run_is_refused(tmp_path):
  with pytest.raises(FileNotFoundError, match="not a training logdir"):
    evaluation.FinalEvaluation(str(tmp_path), evaluation.EvaluationConfig())


def _saved_run(run: str, tiny_config, **data) -> None:
  """A run of a fresh 50x50 model at step 7 in folder `run`, its scenes
  drawn by `datasets.DataConfig(**data)`."""
  config = dataclasses.replace(tiny_config, canvas_size=(50, 50))
  logdir.ensure_config(run, config)
  logdir.ensure_config(run, datasets.DataConfig(**data))
  logdir.ensure_config(run, TrainConfig(z_pres_prior=0.2))
  tf.random.set_seed(0)
  model = AIR(config)
  model.build()
  step = tf.Variable(7, dtype=tf.int64)
  checkpoint = tf.train.Checkpoint(model=model, step=step)
  logdir.checkpoint_manager(checkpoint, run).save(checkpoint_number=7)


def _counted(run: str, **changes) -> dict:
  """The figures of `run` counted on 40 held-out scenes, with `changes` to
  the evaluation's configuration."""
  return evaluation.FinalEvaluation(run, evaluation.EvaluationConfig(
      num_images=40, iw_images=0, variants=False, count_by_elbo=False,
      num_examples=0, **changes))()


def test_another_data_seed_draws_the_scenes_of_a_run_with_it(tmp_path,
                                                            tiny_config):
  own, other = str(tmp_path / "own"), str(tmp_path / "other")
  _saved_run(own, tiny_config, data_seed=0)
  _saved_run(other, tiny_config, data_seed=3)
  # Other scenes than its own: the figures of the run trained on them.
  assert _counted(own, data_seed=3) == _counted(other)


def test_other_digit_sizes_draw_the_scenes_of_a_run_with_them(tmp_path,
                                                              tiny_config):
  own, other = str(tmp_path / "own"), str(tmp_path / "other")
  _saved_run(own, tiny_config)
  _saved_run(other, tiny_config, digit_sizes=(24, 34))
  larger = _counted(own, digit_sizes=(24, 34))
  assert larger == _counted(other)
  assert larger != _counted(own)
  with pytest.raises(ValueError, match="digit_sizes must be"):
    _counted(own, digit_sizes=(34, 24))


def test_the_figures_add_up_over_the_scenes_counted(tmp_path, tiny_config):
  run = str(tmp_path)
  _saved_run(run, tiny_config)
  with pytest.raises(ValueError, match="Unknown scene_renderer"):
    evaluation.FinalEvaluation(run, evaluation.EvaluationConfig(
        scene_renderer="blender"))
  png = str(tmp_path / "examples.png")
  figures = evaluation.FinalEvaluation(run, evaluation.EvaluationConfig(
      num_images=12, test_counts=(1, 2), iw_samples=3, iw_images=5,
      variants=False, png=png, num_examples=4, undercounted_examples=3,
      truth_refinement_steps=2))()
  json.dumps(figures)  # What sweep.py and evaluate.py write.
  assert figures["step"] == 7 and figures["z_pres_prior"] == pytest.approx(0.2)
  assert figures["iw_images"] == 5 and np.isfinite(figures["iw_bound"])
  confusion = np.array(figures["confusion"])
  assert confusion.shape == (4, 4)  # Counts 0..3 with three steps.
  assert confusion.sum() == 12 and confusion.sum(axis=1)[[0, 3]].sum() == 0
  assert figures["count_accuracy"] == pytest.approx(
      np.trace(confusion) / 12)
  assert figures["mean_count"] == pytest.approx(
      (confusion.sum(axis=0) * np.arange(4)).sum() / 12)
  elbo_confusion = np.array(figures["elbo_confusion"])
  assert figures["elbo_count_accuracy"] == pytest.approx(
      np.trace(elbo_confusion) / 12)
  assert figures["variants"] == {}  # Counted in test_binaries' sweep.
  last_object = figures["last_object"]
  assert last_object["undercounted"]["scenes"] == np.tril(confusion, -1).sum()
  assert last_object["counted_right"]["scenes"] == np.trace(confusion[1:, 1:])
  assert os.path.exists(tmp_path / "undercounted.png") == bool(
      last_object["undercounted"]["scenes"])
  truth = figures["truth_preference"]
  assert truth["undercounted"]["scenes"] == np.tril(confusion, -1).sum()
  assert truth["counted_right"]["scenes"] == np.trace(confusion[1:, 1:])
  for kind in truth.values():
    if kind["scenes"]:
      assert 0 <= kind["preferred"] <= 1 and np.isfinite(kind["median_margin"])
  assert tf.io.decode_png(tf.io.read_file(png)).shape[-1] == 3
