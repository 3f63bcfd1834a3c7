"""A tiny AIR trained a few steps from a fixed seed: the golden checkpoint.

`tests/golden/tiny_air` holds the model's variables after `train()`. The
conformance tests check that it still restores into `AIR(CONFIG)` (a
renamed or reshaped variable fails) and that `train()` still reaches the
same parameters (a refactoring that changes what training computes
fails). Regenerate it only when a change of the model is intended:

    .venv/bin/python tests/golden_air.py
"""

import os

import numpy as np
import tensorflow as tf

from air_tf import scenes
from air_tf.config import AIRConfig
from air_tf.model import AIR
from air_tf.training import TrainConfig, Trainer

CONFIG = AIRConfig(canvas_size=(16, 16), max_steps=3, z_what_size=4,
                   window_size=6, lstm_size=16, encoder_hidden=(16,),
                   decoder_hidden=(16,), image_encoder_hidden=(16,),
                   baseline_lstm_size=8, baseline_hidden=(8,),
                   z_where_prior_loc=(2.0, 0.0, 0.0), scale_range=1.0)
TRAINING = TrainConfig(batch_size=8, learning_rate=1e-2, seed=5,
                       z_pres_prior=0.1,
                       samples_per_image=2, jit_compile=False)
STEPS = 5
CHECKPOINT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "golden", "tiny_air", "model")


def images() -> tf.Tensor:
  """`[8, 16, 16]` scenes of 0-2 bars."""
  objects = np.zeros([4, 6, 6], np.uint8)
  objects[:, 1:5, 2:4] = 255
  return tf.constant(scenes.scatter_objects(objects, 8, seed=0,
                                          canvas_size=16).float_images())


def train() -> AIR:
  """The golden recipe: a fresh AIR(CONFIG) trained STEPS steps."""
  tf.random.set_seed(0)
  trainer = Trainer(AIR(CONFIG), TRAINING)
  batch = images()
  for _ in range(STEPS):
    trainer.train_step(batch)
  return trainer.model


if __name__ == "__main__":
  os.makedirs(os.path.dirname(CHECKPOINT), exist_ok=True)
  path = tf.train.Checkpoint(model=train()).write(CHECKPOINT)
  print(f"wrote {path}")
