"""Training on several replicas: the strategies, the split of the batch, and
train.py under MirroredStrategy (two logical CPUs) and
MultiWorkerMirroredStrategy (two processes on loopback) against one
device."""

import glob
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from air_tf import distribution
from conftest import TINY_TRAIN_FLAGS

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_TINY_FLAGS = [*TINY_TRAIN_FLAGS, "--log_every=3",
               "--checkpoint_every=3"]
# Replicas add their parts' gradients in another order than one device
# adds the whole batch's: parameters agree to float32 rounding, where
# other draws (a replica repeating another's) would move them by ~1e-3.
_TOLERANCE = dict(rtol=1e-4, atol=2e-5)


def _train(logdir, steps, *flags, env=None, wait=True):
  command = [sys.executable, os.path.join(_ROOT, "experiments", "train.py"),
             f"--logdir={logdir}", f"--num_steps={steps}", *_TINY_FLAGS,
             *flags]
  process = subprocess.Popen(command, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             env={**os.environ, **(env or {})})
  return _finish(process) if wait else process


def _finish(process):
  stdout, stderr = process.communicate(timeout=600)
  if process.returncode:
    raise AssertionError(f"train.py failed:\n{stderr[-3000:]}")
  return stdout, stderr


def _parameters(logdir):
  reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(
      os.path.join(logdir, "checkpoints")))
  return {name: reader.get_tensor(name)
          for name in reader.get_variable_to_shape_map()
          if name.startswith(("model/", "normalizer/"))}


def _assert_same_parameters(actual_logdir, expected_logdir):
  actual, expected = (_parameters(actual_logdir),
                      _parameters(expected_logdir))
  assert actual.keys() == expected.keys() and expected
  for name in expected:
    np.testing.assert_allclose(actual[name], expected[name], err_msg=name,
                               **_TOLERANCE)


def _free_ports(count):
  sockets = [socket.socket() for _ in range(count)]
  for each in sockets:
    each.bind(("localhost", 0))
  ports = [each.getsockname()[1] for each in sockets]
  for each in sockets:
    each.close()
  return ports


def _progress(stdout):
  return [line.split("elbo")[1].split()[0] for line in stdout.splitlines()
          if "min left" in line]


def test_strategies_by_name():
  assert distribution.make_strategy(distribution.Devices()) is None
  assert distribution.is_chief(None)
  with pytest.raises(ValueError, match="strategy must be one of"):
    distribution.Devices(strategy="tpu")
  with pytest.raises(ValueError, match="cpu_devices must be >= 1"):
    distribution.Devices(cpu_devices=0)


@pytest.mark.parametrize("tf_config, message", [
    (None, "needs the TF_CONFIG"),
    ("{cluster:", "TF_CONFIG is not JSON"),
    ('{"cluster": {"worker": "localhost:1"}, "task": {"type": "worker", '
     '"index": 0}}', "lists of \"host:port\""),
    ('{"cluster": {"worker": ["localhost:1"]}, "task": {"type": "worker", '
     '"index": 1}}', "an index into its addresses"),
    ('{"cluster": {"worker": ["localhost:1"]}, "task": {"type": "ps", '
     '"index": 0}}', "must name a job of the cluster"),
])
def test_a_malformed_tf_config_says_what_is_wrong(monkeypatch, tf_config,
                                                  message):
  if tf_config is None:
    monkeypatch.delenv("TF_CONFIG", raising=False)
  else:
    monkeypatch.setenv("TF_CONFIG", tf_config)
  with pytest.raises(ValueError, match=message):
    distribution.make_strategy(distribution.Devices(strategy="multi_worker"))


def test_a_batch_must_split_equally_across_replicas():
  strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
  distribution.check_batch(strategy, 7)
  images = tf.reshape(tf.range(12.0), [6, 2])
  np.testing.assert_array_equal(
      strategy.experimental_local_results(
          distribution.split_batch(strategy, images))[0], images)
  assert distribution.split_batch(None, images) is images

  class TwoReplicas:
    num_replicas_in_sync = 2
  with pytest.raises(ValueError, match="must be a multiple of 2"):
    distribution.check_batch(TwoReplicas(), 7)


def test_two_cpu_replicas_train_like_one_device(tmp_path):
  one, two = str(tmp_path / "one"), str(tmp_path / "two")
  # At once: tracing, most of these runs' time, takes one core. XLA on:
  # each replica's step is compiled.
  processes = [_train(one, 6, "--jit_compile", wait=False),
               _train(two, 6, "--strategy=mirrored", "--cpu_devices=2",
                      "--jit_compile", wait=False)]
  (one_out, _), (two_out, _) = [_finish(process) for process in processes]
  assert _progress(two_out) == _progress(one_out)  # ELBOs to 0.01 nats.
  _assert_same_parameters(two, one)


def test_two_workers_checkpoint_once_and_resume_like_one_process(tmp_path):
  logdir, alone = str(tmp_path / "workers"), str(tmp_path / "alone")
  ports = _free_ports(2)

  def launch(steps):
    return [_train(logdir, steps, "--strategy=multi_worker", wait=False,
                   env={
                       "TF_CONFIG": json.dumps({
                           "cluster": {"worker": [
                               f"localhost:{port}" for port in ports]},
                           "task": {"type": "worker", "index": index}})})
            for index in range(2)]

  workers, one_process = launch(3), _train(alone, 6, wait=False)
  (chief_out, _), (worker_out, _) = [_finish(process) for process in workers]
  assert _progress(chief_out) and not worker_out  # Only the chief reports.
  (chief_out, chief_err), (_, worker_err) = [
      _finish(process) for process in launch(6)]
  for stderr in (chief_err, worker_err):
    assert "Resumed from" in stderr and "ckpt-3 at step 3" in stderr
  # The chief alone wrote the run's records, once per launch.
  assert len(glob.glob(os.path.join(logdir, "events.out.tfevents.*"))) == 2
  with open(os.path.join(logdir, "launches.jsonl")) as launches:
    assert [json.loads(line)["start_step"] for line in launches] == [0, 3]

  _finish(one_process)
  _assert_same_parameters(logdir, alone)


def test_a_bad_distribution_is_one_clear_line(tmp_path):
  command = [sys.executable, os.path.join(_ROOT, "experiments", "train.py"),
             f"--logdir={tmp_path}", "--strategy=multi_worker"]
  result = subprocess.run(command, capture_output=True, text=True,
                          env={**os.environ, "TF_CONFIG": "{cluster:"},
                          timeout=300)
  assert result.returncode == 1
  assert result.stderr.strip().splitlines()[-1].startswith(
      "error: TF_CONFIG is not JSON")
