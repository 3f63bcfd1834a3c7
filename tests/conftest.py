"""Shared fixtures: one tiny AIR, so the expensive traces happen once."""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from air_tf.config import AIRConfig  # pylint: disable=g-import-not-at-top

TINY = AIRConfig(canvas_size=(16, 16), max_steps=3, z_what_size=4,
                 window_size=6, lstm_size=16, encoder_hidden=(16,),
                 decoder_hidden=(16,), image_encoder_hidden=(16,),
                 baseline_lstm_size=8, baseline_hidden=(8,),
                 z_where_prior_loc=(2.0, 0.0, 0.0), scale_range=1.0,
                 dair=False)


# Flags of experiments/train.py for a tiny model on a few multi-MNIST
# images, for the tests that run the binaries. TensorFlow's own kernels:
# XLA's compilation would take longer than these runs' few steps.
TINY_TRAIN_FLAGS = [
    "--lstm_size=16", "--baseline_lstm_size=8", "--window_size=6",
    "--z_what_size=4", "--image_encoder_hidden=16", "--encoder_hidden=16",
    "--decoder_hidden=16", "--baseline_hidden=8", "--batch_size=8",
    "--num_train_images=64", "--num_eval_images=16", "--eval_every=100000",
    "--log_every=50", "--checkpoint_every=50", "--learning_rate=1e-3",
    "--nodair", "--nojit_compile"]


@pytest.fixture(scope="session")
def tiny_config() -> AIRConfig:
  return TINY


def variable_named(module, name: str):
  """The one variable of `module` whose name contains `name`, such as
  "pres_where_head/b" (tests reach weights by name, not by private
  attribute)."""
  [variable] = [v for v in module.variables if name in v.name]
  return variable


def copy_weights(source, target) -> None:
  """Gives `target` (built, with the same variables) `source`'s weights, so
  that two models that differ only in how they count share one network."""
  for source_variable, target_variable in zip(source.variables,
                                              target.variables):
    target_variable.assign(source_variable)
