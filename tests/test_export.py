"""The SavedModel: plain TensorFlow loads it, and it refuses bad input."""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from air_tf import export
from air_tf.model import AIR
from air_tf.tabletop_air import TabletopAIR, TabletopConfig
from conftest import variable_named

# Runs in a fresh interpreter that must never import air_tf.
_CONSUMER = r"""
import json, sys
import numpy as np
import tensorflow as tf
export_dir, images_file, out_file = sys.argv[1:]
model = tf.saved_model.load(export_dir)
out = model.signatures["serving_default"](images=tf.constant(np.load(images_file)))
samples = model.signatures["sample"](num_samples=tf.constant(5))
np.savez(out_file, **{k: v.numpy() for k, v in out.items()},
         sample_images=samples["images"].numpy(),
         sample_count=samples["count"].numpy(),
         sample_boxes=samples["boxes"].numpy())
print(json.dumps({
    "signatures": sorted(model.signatures),
    "config": json.loads(model.config_json.numpy().decode()),
    "canvas_size": model.canvas_size.numpy().tolist(),
    "max_steps": int(model.max_steps.numpy()),
    "z_what_size": int(model.z_what_size.numpy()),
    "dtypes": {k: v.dtype.name for k, v in out.items()},
    "imported": sorted(m for m in sys.modules
                       if m.split(".")[0] in ("air_tf", "sonnet")),
}))
"""


def _images(config, count=7):
  return np.random.default_rng(0).uniform(
      size=(count, *config.canvas_size)).astype(np.float32)


@pytest.fixture(scope="module")
def exported(tiny_config, tmp_path_factory):
  tf.random.set_seed(1)
  # Plain pixels: the tolerances below hold for the sharpened network's
  # operating point on them (with the square root, z_where is 5e-6 apart).
  model = AIR(dataclasses.replace(tiny_config, reader_square_root=False))
  model.build()
  images = tf.constant(_images(tiny_config))
  # Sharper presence logits than a fresh network's, and a bias (found by
  # bisection) that makes the first step present in some images only.
  for variable in model.inference.trainable_variables:
    if "/inference/" in variable.name:  # Not the renderer it holds.
      variable.assign(variable * 3.0)
  bias = variable_named(model, "pres_where_head/b")
  low, high = -100.0, 100.0
  for _ in range(40):
    middle = (low + high) / 2
    bias.assign(tf.tensor_scatter_nd_update(bias, [[0]], [middle]))
    present = model(images, 0.5, sample=False).count.numpy() > 0
    if present.all():
      high = middle
    elif not present.any():
      low = middle
    else:
      break
  export_dir = str(tmp_path_factory.mktemp("export") / "air")
  export.export(model, 0.5, export_dir)
  return model, export_dir


def test_plain_tensorflow_loads_and_matches_the_model(exported, tiny_config,
                                                       tmp_path):
  model, export_dir = exported
  images = _images(tiny_config)
  np.save(tmp_path / "images.npy", images)
  result = subprocess.run(
      [sys.executable, "-c", _CONSUMER, export_dir,
       str(tmp_path / "images.npy"), str(tmp_path / "out.npz")],
      capture_output=True, text=True, check=True, env={**os.environ,
                                                       "PYTHONPATH": ""})
  info = json.loads(result.stdout.splitlines()[-1])
  assert info["imported"] == []
  assert info["signatures"] == ["infer", "sample", "serving_default"]
  assert info["config"]["lstm_size"] == tiny_config.lstm_size
  assert info["canvas_size"] == list(tiny_config.canvas_size)
  assert info["max_steps"] == 3 and info["z_what_size"] == 4
  assert info["dtypes"] == {"count": "int32", "z_pres_prob": "float32",
                            "boxes": "float32", "z_where": "float32",
                            "z_what": "float32", "reconstruction": "float32"}

  out = np.load(tmp_path / "out.npz")
  expected = model(tf.constant(images), 0.5, sample=False)
  np.testing.assert_array_equal(out["count"], expected.count)
  np.testing.assert_allclose(out["reconstruction"], expected.reconstruction,
                             rtol=1e-4, atol=1e-5)
  assert out["boxes"].shape == (7, 3, 4) and out["z_what"].shape == (7, 3, 4)
  present = np.arange(3) < out["count"][:, None]
  assert len(set(out["count"])) > 1  # The check below sees both cases.
  assert np.all(out["boxes"][~present] == 0)
  assert np.all(out["z_what"][~present] == 0)
  np.testing.assert_allclose(
      out["z_where"][present],
      expected.posterior.z_where.numpy()[present], rtol=1e-5, atol=1e-6)
  assert np.all(out["z_where"][~present] == 0)
  assert np.all(out["boxes"][present][:, 2:] > out["boxes"][present][:, :2])
  # Probabilities are 0 where a step was never reached.
  reached = np.arange(3) <= out["count"][:, None]
  assert np.all(out["z_pres_prob"][~reached] == 0)
  np.testing.assert_allclose(
      out["z_pres_prob"][reached],
      tf.sigmoid(expected.posterior.z_pres_logits).numpy()[reached],
      rtol=1e-5, atol=1e-6)
  assert out["sample_images"].shape == (5, *tiny_config.canvas_size)
  assert out["sample_count"].shape == (5,)
  sample_present = np.arange(3) < out["sample_count"][:, None]
  assert np.all(out["sample_boxes"][~sample_present] == 0)


@pytest.mark.parametrize("images, message", [
    (np.zeros([2, 16], np.float32), "wrong rank"),
    (np.zeros([2, 16, 17], np.float32), "wrong height/width"),
    (np.zeros([0, 16, 16], np.float32), "the batch is empty"),
    (np.full([1, 16, 16], np.nan, np.float32), "NaN or Inf"),
    (np.full([1, 16, 16], np.inf, np.float32), "NaN or Inf"),
    (np.full([1, 16, 16], 1.5, np.float32), "outside \\[0, 1\\]"),
    (np.full([1, 16, 16], -0.1, np.float32), "outside \\[0, 1\\]"),
])
def test_bad_images_are_refused_with_the_expected_form(exported, images,
                                                        message):
  loaded = tf.saved_model.load(exported[1])
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match=f"(?s){message}.*expected float32 images of shape "
                           f"\\[B, 16, 16\\]"):
    loaded.signatures["serving_default"](images=tf.constant(images))


def test_wrong_dtype_is_refused(exported):
  loaded = tf.saved_model.load(exported[1])
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match="expected to be a float tensor but is a uint8"):
    loaded.signatures["serving_default"](images=tf.zeros([1, 16, 16],
                                                         tf.uint8))


@pytest.mark.parametrize("dtype", [tf.float64, tf.uint8, tf.int32])
def test_infer_names_the_expected_and_the_given_dtype(exported, dtype):
  loaded = tf.saved_model.load(exported[1])
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match=f"images have dtype {dtype.name}: expected "
                           f"float32 images"):
    loaded.infer(tf.zeros([1, 16, 16], dtype))


def test_bad_sample_count_is_refused(exported):
  loaded = tf.saved_model.load(exported[1])
  with pytest.raises(tf.errors.InvalidArgumentError, match="num_samples"):
    loaded.signatures["sample"](num_samples=tf.constant(0))


def test_export_replaces_an_old_export_whole(exported, tmp_path):
  model, _ = exported
  target = tmp_path / "air"
  target.mkdir()
  (target / "stale.txt").write_text("old")
  export.export(model, 0.5, str(target))
  assert not (target / "stale.txt").exists()
  assert (target / "saved_model.pb").exists()
  assert not (tmp_path / "air.partial").exists()


def test_a_tabletop_model_exports_colour_inference(tmp_path):
  config = TabletopConfig(image_size=16, lstm_size=8, baseline_lstm_size=4,
                          image_encoder_hidden=(8,), baseline_hidden=(4,))
  tf.random.set_seed(2)
  model = TabletopAIR(config)
  model.build()
  # Presence logits around +2 at random weights: objects to check.
  head_bias = model.inference._head.b
  head_bias.assign(tf.tensor_scatter_nd_update(head_bias, [[0]], [2.0]))
  export_dir = str(tmp_path / "tabletop")
  export.export(model, 0.5, export_dir)
  loaded = tf.saved_model.load(export_dir)
  assert loaded.model_kind.numpy() == b"TabletopAIR"
  assert loaded.image_shape.numpy().tolist() == [16, 16, 3]
  assert int(loaded.z_what_size.numpy()) == 3
  images = tf.random.stateless_uniform([4, 16, 16, 3], seed=[0, 3])
  out = loaded.signatures["serving_default"](images=images)
  expected = model(images, 0.5, sample=False)
  np.testing.assert_array_equal(out["count"], expected.count)
  # The renderer's root finding, compiled by XLA, rounds differently, and
  # each step reads the residual of the objects before it.
  np.testing.assert_allclose(out["reconstruction"], expected.reconstruction,
                             atol=1e-3)
  present = expected.posterior.z_pres.numpy() > 0
  assert present.any()  # The checks below see objects.
  np.testing.assert_allclose(out["z_where"].numpy()[present],
                             expected.posterior.z_where.numpy()[present],
                             atol=1e-4)
  # The identity of each present object is one-hot; absent rows are zero.
  np.testing.assert_array_equal(out["z_what"].numpy().sum(-1), present)
  assert out["reconstruction"].shape == (4, 16, 16, 3)
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match="(?s)wrong rank.*expected float32 images of "
                           "shape \\[B, 16, 16, 3\\]"):
    loaded.signatures["serving_default"](images=tf.zeros([2, 16, 16]))
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match="wrong height/width/channels"):
    loaded.signatures["serving_default"](images=tf.zeros([2, 16, 16, 1]))
  samples = loaded.signatures["sample"](num_samples=tf.constant(3))
  assert samples["images"].shape == (3, 16, 16, 3)
  # annotate.py reads grey images: it refuses a colour model in one line.
  result = subprocess.run(
      [sys.executable, os.path.join(os.path.dirname(os.path.dirname(
          os.path.abspath(__file__))), "experiments", "annotate.py"),
       f"--model={export_dir}", f"--input={tmp_path}",
       f"--output={tmp_path / 'out'}"], capture_output=True, text=True)
  assert result.returncode == 1 and "Traceback" not in result.stderr
  assert result.stderr.strip().splitlines()[-1].endswith(
      "annotate.py reads grey images for a 2D AIR.")
