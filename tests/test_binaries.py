"""The experiment binaries end to end: faults, resume, export, annotate.

Each test runs the binaries as a user would, in their own processes, with a
tiny model on a few multi-MNIST images.
"""

import dataclasses
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time

from absl import flags
import numpy as np
import pytest
import tensorflow as tf

from air_tf import config_flags
from air_tf import downstream
from air_tf import logdir as logdir_lib
from air_tf.config import AIRConfig
from air_tf.training import TrainConfig
from conftest import TINY_TRAIN_FLAGS

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_STEPS = 100


def _command(binary, *flags):
  return [sys.executable, os.path.join(_ROOT, "experiments", binary), *flags]


# A guard against a hung binary, not a speed test: generalisation.py trains
# several tiny runs, and took over 300 s with the cores shared.
_BINARY_TIMEOUT_SECONDS = 900


def _run(binary, *flags, check=True):
  result = subprocess.run(_command(binary, *flags), capture_output=True,
                          text=True, timeout=_BINARY_TIMEOUT_SECONDS)
  if check and result.returncode:
    raise AssertionError(f"{binary} failed:\n{result.stderr[-3000:]}")
  return result


def _train_flags(logdir, steps=_STEPS):
  return [f"--logdir={logdir}", f"--num_steps={steps}", *TINY_TRAIN_FLAGS]


def _checkpoint_steps(logdir):
  folder = os.path.join(logdir, "checkpoints")
  state = tf.train.get_checkpoint_state(folder)
  paths = state.all_model_checkpoint_paths if state else []
  return [int(path.rsplit("-", 1)[1]) for path in paths]


def _wait_for_checkpoint(process, logdir):
  deadline = time.time() + 240
  while not _checkpoint_steps(logdir):
    assert process.poll() is None, process.communicate()[1][-3000:]
    assert time.time() < deadline, "no checkpoint within 4 minutes"
    time.sleep(0.05)


def _parameters(logdir):
  reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(
      os.path.join(logdir, "checkpoints")))
  return {name: reader.get_tensor(name)
          for name in reader.get_variable_to_shape_map()
          if name.startswith("model/") and "OPTIMIZER_SLOT" not in name}


@pytest.fixture(scope="session")
def uninterrupted_run(tmp_path_factory, worker_id):
  """(logdir, stdout) of a training run that nothing interrupts, trained
  once per test session: pytest-xdist's workers share it."""
  if worker_id == "master":  # Not under xdist.
    shared = tmp_path_factory.mktemp("uninterrupted")
  else:  # The session's folder, above each worker's own.
    shared = tmp_path_factory.getbasetemp().parent
  logdir, stdout = shared / "uninterrupted", shared / "uninterrupted.stdout"
  with open(shared / "uninterrupted.lock", "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)  # The first worker trains; others wait.
    if not stdout.exists():
      stdout.write_text(_run("train.py", *_train_flags(str(logdir))).stdout)
  return str(logdir), stdout.read_text()


@pytest.fixture(scope="session")
def uninterrupted(uninterrupted_run):
  return uninterrupted_run[0]


def test_progress_lines_say_when_no_accuracy_is_known_yet(uninterrupted_run):
  lines = uninterrupted_run[1].splitlines()
  progress = [line for line in lines if "min left" in line]
  # log_every=50 and one evaluation, after the last progress line.
  assert len(progress) == _STEPS // 50
  assert all("held-out count acc    n/a" in line for line in progress)
  assert "nan" not in uninterrupted_run[1]
  assert f"step {_STEPS:>7d}  held-out count accuracy" in lines[-1]


def test_killed_run_resumes_to_the_same_parameters(uninterrupted, tmp_path):
  logdir = str(tmp_path)
  process = subprocess.Popen(_command("train.py", *_train_flags(logdir)),
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
  _wait_for_checkpoint(process, logdir)
  process.send_signal(signal.SIGKILL)
  process.communicate()
  assert process.returncode == -signal.SIGKILL
  assert max(_checkpoint_steps(logdir)) < _STEPS  # Killed mid-run.

  resumed = _run("train.py", *_train_flags(logdir))
  assert "Resumed from" in resumed.stderr
  expected, actual = _parameters(uninterrupted), _parameters(logdir)
  assert expected.keys() == actual.keys() and expected
  for name in expected:
    np.testing.assert_array_equal(actual[name], expected[name], err_msg=name)


def test_sigterm_saves_a_checkpoint_before_exiting(tmp_path):
  logdir = str(tmp_path)
  process = subprocess.Popen(
      _command("train.py", *_train_flags(logdir, steps=10**7)),
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  _wait_for_checkpoint(process, logdir)
  time.sleep(0.5)
  process.send_signal(signal.SIGTERM)
  stdout, _ = process.communicate(timeout=60)
  assert process.returncode == 128 + signal.SIGTERM
  line = [l for l in stdout.splitlines() if l.startswith("SIGTERM")][-1]
  saved_step = int(line.split("saved step ")[1].split()[0])
  assert max(_checkpoint_steps(logdir)) == saved_step


def test_a_logdir_of_another_model_is_one_clear_line(uninterrupted):
  flags = _train_flags(uninterrupted) + ["--lstm_size=32"]
  result = _run("train.py", *flags, check=False)
  assert result.returncode == 1
  assert result.stderr.strip().splitlines()[-1].startswith("error: ")
  assert "lstm_size: 16 there, 32 asked" in result.stderr
  assert "Traceback" not in result.stderr


# evaluate.py's: test_evaluation.py (the same line, through the same
# handler as its bad numbers below).
def test_a_missing_logdir_is_one_clear_line():
  result = _run("export.py", "--logdir=/no/such/run",
                "--export_dir=/tmp/unused", check=False)
  assert result.returncode == 1
  assert "Traceback" not in result.stderr
  assert result.stderr.strip().splitlines()[-1] == (
      "error: /no/such/run has no config.json: not a training logdir of "
      "experiments/train.py.")


def test_resuming_with_another_training_configuration_is_refused(
    uninterrupted, tmp_path):
  logdir = str(tmp_path / "run")
  shutil.copytree(uninterrupted, logdir)
  flags = _train_flags(logdir) + ["--learning_rate=5e-4", "--seed=3"]
  refused = _run("train.py", *flags, check=False)
  assert refused.returncode == 1 and "Traceback" not in refused.stderr
  assert refused.stderr.strip().splitlines()[-1] == (
      f"error: {logdir} holds a different training configuration "
      f"(learning_rate: 0.001 there, 0.0005 asked; seed: 0 there, 3 asked). "
      f"Use another --logdir or the flags it was trained with.")
  _run("train.py", *flags, "--replace_training_config")
  recorded = logdir_lib.load_config(logdir, TrainConfig)
  assert (recorded.learning_rate, recorded.seed) == (5e-4, 3)


def test_a_run_records_its_training_and_launches(uninterrupted):
  recorded = logdir_lib.load_config(uninterrupted, TrainConfig)
  assert (recorded.batch_size, recorded.learning_rate) == (8, 1e-3)
  assert (recorded.num_train_images, recorded.num_eval_images) == (64, 16)
  assert not recorded.jit_compile
  [launch] = logdir_lib.read_launches(uninterrupted)
  assert launch["start_step"] == 0
  assert "--num_train_images=64" in launch["argv"]


def test_the_convolutional_reader_flagfile_sets_each_of_its_flags(tmp_path):
  path = os.path.join(_ROOT, "experiments", "convolutional_reader.flags")
  logdir = str(tmp_path / "reader")
  _run("train.py", *_train_flags(logdir, steps=1), f"--flagfile={path}")
  # The file read as train.py reads it: its configurations' flags.
  file_flags = flags.FlagValues()
  for kind in (AIRConfig, TrainConfig):
    config_flags.define_flags(kind, flag_values=file_flags)
  file_flags(["train.py", f"--flagfile={path}"])
  given = []
  for kind in (AIRConfig, TrainConfig):
    asked = config_flags.from_flags(kind, file_flags)
    recorded = logdir_lib.load_config(logdir, kind)
    for name in config_flags.given_flags(kind, file_flags):
      assert getattr(recorded, name) == getattr(asked, name), name
      given.append(name)
  assert "image_encoder_channels" in given and "jit_compile" in given


def test_each_evaluation_logs_its_confusion_image(uninterrupted):
  images = []
  for name in os.listdir(uninterrupted):
    if name.startswith("events."):
      for event in tf.compat.v1.train.summary_iterator(
          os.path.join(uninterrupted, name)):
        images += [(event.step, tf.make_ndarray(value.tensor)) for value in
                   event.summary.value if value.tag == "eval/confusion"]
  [(step, encoded)] = images  # One evaluation: at the last step.
  assert step == _STEPS
  picture = tf.io.decode_png(encoded[2]).numpy()  # [width, height, png].
  assert picture.shape[2] == 3 and picture.min() < picture.max()


def test_evaluate_and_export_use_the_runs_own_prior(uninterrupted, tmp_path):
  logdir = str(tmp_path / "run")
  shutil.copytree(uninterrupted, logdir)
  logdir_lib.ensure_config(logdir, dataclasses.replace(
      logdir_lib.load_config(logdir, TrainConfig), z_pres_prior=0.02),
      replace=True)
  final_json = str(tmp_path / "final.json")
  _run("evaluate.py", f"--logdir={logdir}", "--num_images=20",
       "--iw_images=0", "--novariants", "--num_examples=0",
       f"--json={final_json}")
  with open(final_json) as f:
    final = json.load(f)
  assert final["z_pres_prior"] == pytest.approx(0.02)
  assert final["iw_bound"] is None and final["iw_images"] == 0
  export_dir = str(tmp_path / "export")
  _run("export.py", f"--logdir={logdir}", f"--export_dir={export_dir}")
  loaded = tf.saved_model.load(export_dir)
  assert float(loaded.z_pres_prior) == pytest.approx(0.02)


# The binaries whose numbers a configuration checks (`config_flags`): one
# case each, since each is a process that imports TensorFlow. The
# configurations' own checks are tested where they are defined; the other
# binaries' bounds are absl's (`lower_bound`), which fail in one line.
@pytest.mark.parametrize("binary, flag", [
    ("train.py", "--batch_size=0"), ("evaluate.py", "--iw_images=-1"),
])
def test_a_bad_number_is_one_clear_line(binary, flag, tmp_path):
  result = _run(binary, flag, f"--logdir={tmp_path / 'run'}", check=False)
  assert result.returncode == 1 and "Traceback" not in result.stderr
  error = [line for line in result.stderr.splitlines()
           if line.startswith(("error: ", "FATAL Flags parsing error: "))]
  assert len(error) == 1
  assert flag.split("=")[0].lstrip("-") in error[0]


def test_a_missing_export_is_one_clear_line(tmp_path):
  result = _run("annotate.py", "--model=/no/such/export",
                f"--input={tmp_path}", f"--output={tmp_path}", check=False)
  assert result.returncode == 1 and "Traceback" not in result.stderr
  assert result.stderr.strip().splitlines()[-1].startswith(
      "error: cannot load an exported AIR from --model /no/such/export")


def test_diverging_training_stops_with_one_line(tmp_path):
  # Adam steps of 1e30 overflow the parameters: every later loss is NaN.
  flags = _train_flags(str(tmp_path), steps=1000) + [
      "--learning_rate=1e30", "--max_nonfinite_in_a_row=5",
      "--checkpoint_every=1000"]
  result = _run("train.py", *flags, check=False)
  assert result.returncode == 1 and "Traceback" not in result.stderr
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith("error: 5 updates in a row had a NaN/Inf loss")


def _write_png(path, image):
  tf.io.write_file(str(path), tf.io.encode_png(image[..., np.newaxis]))


def test_export_then_annotate_a_folder(uninterrupted, tmp_path):
  export_dir = str(tmp_path / "export")
  _run("export.py", f"--logdir={uninterrupted}", f"--export_dir={export_dir}")
  inputs = tmp_path / "inputs"
  inputs.mkdir()
  rng = np.random.default_rng(0)
  _write_png(inputs / "a_fits.png", rng.integers(0, 255, (50, 50), np.uint8))
  _write_png(inputs / "b_large.png",
             rng.integers(0, 255, (100, 100), np.uint8))
  _write_png(inputs / "c_wide.png", rng.integers(0, 255, (50, 60), np.uint8))
  (inputs / "d_corrupt.png").write_bytes(b"\x89PNG not really")
  np.save(inputs / "e_stack.npy", rng.integers(0, 255, (3, 50, 50),
                                               np.uint8))
  np.save(inputs / "f_range.npy", np.full((50, 50), 2.0, np.float32))
  output = tmp_path / "annotated"

  result = _run("annotate.py", f"--model={export_dir}", f"--input={inputs}",
                f"--output={output}", "--batch_size=4", check=False)
  assert result.returncode == 1
  assert "Traceback" not in result.stderr
  assert "skipped " + str(inputs / "c_wide.png") in result.stderr
  assert "aspect ratio" in result.stderr
  assert "skipped " + str(inputs / "d_corrupt.png") in result.stderr
  assert "skipped " + str(inputs / "f_range.npy") in result.stderr
  assert "3 of 6 input files were rejected" in result.stderr
  assert "annotated 5 images" in result.stdout

  lines = [json.loads(line) for line in
           (output / "annotations.jsonl").read_text().splitlines()]
  assert [(os.path.basename(l["file"]), l["index"]) for l in lines] == [
      ("a_fits.png", 0), ("b_large.png", 0), ("e_stack.npy", 0),
      ("e_stack.npy", 1), ("e_stack.npy", 2)]
  assert lines[1]["resized_from"] == [100, 100]
  assert "resized_from" not in lines[0]
  for line in lines:
    assert len(line["boxes"]) == line["count"]
    assert len(line["z_pres_prob"]) == 3
  for name in ("a_fits", "b_large", "e_stack_0", "e_stack_2"):
    assert (output / f"{name}.png").exists()


def test_sweep_trains_evaluates_and_reports_each_seed_and_path(tmp_path):
  root = str(tmp_path / "sweep")
  tiny = [flag for flag in TINY_TRAIN_FLAGS
          if not flag.startswith(("--eval_every", "--checkpoint_every"))]
  train_flags = ",".join(tiny + ["--num_steps=40", "--eval_every=20",
                                 ])
  sweep = ["sweep.py", f"--root={root}", "--seeds=3",
           "--paths=xla,no_xla_onednn_off", f"--train_flags={train_flags}",
           "--eval_images=20", "--iw_images=0", "--threshold=0.0"]
  _run(*sweep)
  with open(os.path.join(root, "sweep.json")) as f:
    runs = json.load(f)
  assert [(run["path"], run["seed"]) for run in runs] == [
      ("xla", 3), ("no_xla_onednn_off", 3)]
  # Each path's training ran in its environment.
  launches = {path: logdir_lib.read_launches(
      os.path.join(root, path, "seed_3"))[0] for path in ("xla",
                                                          "no_xla_onednn_off")}
  assert launches["xla"]["environment"] == {
      name: os.environ[name] for name in logdir_lib.FLOATING_POINT_ENVIRONMENT
      if name in os.environ}
  assert launches["no_xla_onednn_off"]["environment"][
      "TF_ENABLE_ONEDNN_OPTS"] == "0"
  # ... and compiled as its path says, over --train_flags' --nojit_compile.
  assert {path: logdir_lib.load_config(os.path.join(root, path, "seed_3"),
                                       TrainConfig).jit_compile
          for path in launches} == {"xla": True, "no_xla_onednn_off": False}
  for run in runs:
    assert run["final"]["step"] == 40
    assert [record["step"] for record in run["curve"]] == [20, 40]
    assert 0 < run["curve"][0]["minutes"] < run["curve"][1]["minutes"]
    assert run["steps_to_threshold"] == 20
    assert sorted(run["final"]["variants"]) == [
        "digits_14_18px", "digits_18_24px", "digits_24_28px",
        "digits_28px", "pyro_layout"]
  with open(os.path.join(root, "sweep.md")) as f:
    report = f.read()
  assert "| no_xla_onednn_off | 3 |" in report
  assert "| final count accuracy | counted by ELBO |" in report
  for run in runs:
    assert 0 <= run["final"]["elbo_count_accuracy"] <= 1
  assert "- xla: 1 of 1 seeds; final count accuracy mean" in report
  assert "| seed | xla | no_xla_onednn_off |" in report
  assert os.path.getsize(os.path.join(root, "curves.png")) > 1000
  # A finished seed is reported again without training it again.
  _run(*sweep)
  with open(os.path.join(root, "xla", "seed_3", "launches.jsonl")) as f:
    assert len(f.readlines()) == 1
  assert "--paths takes some of" in _run("sweep.py", f"--root={root}",
                                         "--paths=fast", check=False).stderr
  # The two paths' runs side by side, from their TensorBoard events.
  logdirs = ",".join(os.path.join(root, path, "seed_3")
                     for path in ("xla", "no_xla_onednn_off"))
  png = str(tmp_path / "compare.png")
  _run("compare_runs.py", f"--logdirs={logdirs}", f"--png={png}",
       "--tags=eval/count_accuracy,train/q_pres_step_1")
  assert os.path.getsize(png) > 1000
  missing = _run("compare_runs.py", f"--logdirs={logdirs}", "--tags=x/y",
                 check=False)
  assert "error: no run has the scalars ['x/y']" in missing.stderr


def test_generalisation_counts_numbers_unseen_in_training(tmp_path):
  root = tmp_path / "generalisation"
  train_flags = ",".join(TINY_TRAIN_FLAGS + ["--num_steps=10"])
  command = ["generalisation.py", f"--root={root}", "--models=dair",
             f"--train_flags={train_flags}", "--eval_images=12"]
  _run(*command)
  with open(root / "generalisation.json") as f:
    runs = json.load(f)
  assert [(run["test"], run["trained_on"], run["tested_on"], run["max_steps"])
          for run in runs] == [("extrapolation", [0, 1, 2], [3], 4),
                               ("interpolation", [0, 1, 3], [2], 4)]
  for run in runs:
    for confusion, counts in ((run["confusion"], run["tested_on"]),
                              (run["training_counts_confusion"],
                               run["trained_on"])):
      confusion = np.array(confusion)
      assert confusion.shape == (run["max_steps"] + 1,) * 2
      # Every scene holds one of the asked counts.
      assert confusion.sum() == 12
      assert confusion.sum(axis=1)[counts].sum() == 12
    with open(os.path.join(run["logdir"], "config.json")) as f:
      assert json.load(f)["dair"] is True
    with open(os.path.join(run["logdir"], "data.json")) as f:
      assert json.load(f)["counts"] == run["trained_on"]
  assert "| interpolation | 0-1-3 | 2 | 4 | DAIR | 0 |" in (
      root / "generalisation.md").read_text()
  assert (root / "generalisation.png").stat().st_size > 1000
  # Done runs are neither trained nor evaluated again.
  results = [os.path.join(run["logdir"], name + ".json")
             for run in runs for name in (run["test"], "training_counts")]
  written = [os.path.getmtime(path) for path in results]
  _run(*command)
  assert [os.path.getmtime(path) for path in results] == written


def test_sprites_run_evaluates_on_more_objects_and_steps(tmp_path):
  logdir = str(tmp_path)
  flags = [f"--logdir={logdir}", "--num_steps=10", "--dataset=sprites",
           *TINY_TRAIN_FLAGS]
  _run("train.py", *flags)
  result = _run("evaluate.py", f"--logdir={logdir}", "--test_counts=4",
                "--max_steps=5", "--num_images=8", "--iw_samples=0",
                f"--json={tmp_path / 'eval.json'}")
  with open(tmp_path / "eval.json") as f:
    evaluation = json.load(f)
  confusion = np.array(evaluation["confusion"])
  assert confusion.shape == (6, 6)  # Counts 0..5 with 5 steps.
  np.testing.assert_array_equal(confusion.sum(axis=1), [0, 0, 0, 0, 8, 0])
  assert "count accuracy" in result.stdout
  # Resuming with another dataset is refused in one line.
  result = _run("train.py", *flags, "--dataset=multi_mnist", check=False)
  assert result.returncode == 1
  assert result.stderr.strip().splitlines()[-1].startswith(
      "error:") and "different dataset" in result.stderr


# REINFORCE for the identities: the enumeration's renders (tested in
# test_tabletop_air.py) would double the time to trace a training step.
_TINY_TABLETOP_FLAGS = [
    "--dataset=tabletop", "--tabletop_identity_gradient=reinforce", "--tabletop_image_size=24", "--tabletop_lstm_size=16",
    "--tabletop_baseline_lstm_size=8", "--tabletop_image_encoder_hidden=16",
    "--tabletop_baseline_hidden=8", "--notabletop_dair", "--batch_size=8",
    "--num_train_images=16", "--num_eval_images=8", "--num_steps=4",
    "--eval_every=4", "--nojit_compile"]


def test_tabletop_run_trains_evaluates_and_refuses_2d_flags(tmp_path):
  logdir = str(tmp_path / "run")
  _run("train.py", f"--logdir={logdir}", *_TINY_TABLETOP_FLAGS)
  with open(os.path.join(logdir, "eval.jsonl")) as f:
    record = json.loads(f.readlines()[-1])
  assert record["step"] == 4 and np.sum(record["confusion"]) == 8
  assert {"identity_accuracy", "median_position_error",
          "median_rotation_error_deg"} <= set(record)
  result = _run("evaluate.py", f"--logdir={logdir}", "--num_images=8",
                "--iw_samples=0", "--nocount_by_elbo",
                f"--json={tmp_path / 'eval.json'}")
  with open(tmp_path / "eval.json") as f:
    evaluation = json.load(f)
  assert np.array(evaluation["confusion"]).shape == (4, 4)  # 0-3 objects.
  assert "matched_objects" in evaluation and evaluation["variants"] == {}
  picture = tf.io.decode_png(tf.io.read_file(os.path.join(
      logdir, "examples.png")))
  assert picture.shape[-1] == 3 and "identity_accuracy" in result.stdout
  _run("search_speed.py", f"--logdir={logdir}", "--num_images=2",
       "--adam_steps=1,2", "--metropolis_steps=2", "--restarts=1",
       "--nojit_compile",
       f"--output={tmp_path / 'search'}")
  with open(tmp_path / "search" / "search_speed.json") as f:
    search = json.load(f)
  assert [len(search["methods"][name]) for name in (
      "air", "adam", "metropolis")] == [1, 2, 1]
  assert os.path.exists(tmp_path / "search" / "search_speed.png")
  result = _run("train.py", f"--logdir={tmp_path / 'other'}",
                *_TINY_TABLETOP_FLAGS, "--window_size=12", check=False)
  assert result.returncode == 1 and "Traceback" not in result.stderr
  assert result.stderr.strip().splitlines()[-1] == (
      "error: --dataset=tabletop trains a TabletopConfig model; "
      "--window_size configure the other model.")


def test_downstream_tasks_on_a_trained_run(uninterrupted, tmp_path):
  output_dir = str(tmp_path / "downstream")
  result = _run("downstream.py", f"--logdirs={uninterrupted},{uninterrupted}",
                f"--output_dir={output_dir}", "--num_train=60",
                "--num_test=30", "--label_counts=10,40", "--max_steps=6",
                "--eval_every=2", "--learning_rates=1e-2")
  with open(os.path.join(output_dir, "downstream.json")) as f:
    report = json.load(f)
  assert report["label_counts"]["sum"] == [10, 40]
  # Only about a third of the 60 scenes hold two digits.
  assert report["label_counts"]["ascending"][-1] < 40
  assert report["label_counts"]["sum_of_two"] == report["label_counts"][
      "ascending"]
  for task in downstream.TASKS:
    assert len(report["results"][task]) == 2  # The CNN and one AIR name.
    for method, accuracies in report["results"][task].items():
      assert all(0 <= accuracy <= 1 for accuracy in accuracies)
      for fit in report["fits"][task][method]:
        assert fit["learning_rate"] == 1e-2
        assert 2 <= fit["steps"] <= 6
  assert os.path.getsize(os.path.join(output_dir, "downstream.png")) > 1000
  assert "CNN on pixels" in result.stdout
