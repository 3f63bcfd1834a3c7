"""Training batches: a fixed function of (seed, step), so that a resumed
run sees the batches it would have seen."""

from typing import Iterator

import numpy as np
import tensorflow as tf


def batch_indices(num_examples: int, batch_size: int, seed: int,
                   start_step: int) -> Iterator[np.ndarray]:
  """Indices of batch `start_step`, `start_step + 1`, ...: a fixed function
  of (seed, step), so a resumed run sees the batches it would have seen."""
  position = start_step * batch_size
  epoch, permutation = None, None
  while True:
    indices = np.empty(batch_size, np.int64)
    for slot in range(batch_size):
      if position // num_examples != epoch:
        epoch = position // num_examples
        permutation = np.random.default_rng([seed, epoch]).permutation(
            num_examples)
      indices[slot] = permutation[position % num_examples]
      position += 1
    yield indices


def training_batches(images: np.ndarray, batch_size: int, seed: int,
                     start_step: int = 0) -> Iterator[tf.Tensor]:
  """Endless shuffled batches, `[batch_size, H, W]` (colour: `[..., 3]`)
  float32 in [0, 1].

  Batch t is the same whether training starts at step 0 or resumes at t.
  A plain iterator rather than a `tf.data` pipeline: gathering 16 images
  takes microseconds, while a live `tf.data` iterator (from_generator, with
  or without prefetching) slowed every training step by ~35% on 2 cores
  (docs/RESULTS.md, throughput).
  """
  if len(images) < 1:
    raise ValueError("No training images.")
  return (tf.constant(images[indices], tf.float32) / 255.0
          for indices in batch_indices(len(images), batch_size, seed,
                                        start_step))
