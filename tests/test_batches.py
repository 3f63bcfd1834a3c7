"""Training batches: a resumed run sees the batches it would have seen."""

import numpy as np

from air_tf import batches

def test_batches_resume_where_they_left_off():
  images = np.arange(10 * 2 * 2, dtype=np.uint8).reshape(10, 2, 2)
  take = lambda batches, k: [next(batches).numpy() for _ in range(k)]
  whole = take(batches.training_batches(images, 4, seed=7), 6)
  resumed = take(batches.training_batches(images, 4, seed=7, start_step=3), 3)
  for a, b in zip(whole[3:], resumed):
    np.testing.assert_array_equal(a, b)
  # The first epoch is a permutation of all the images.
  first_epoch = np.round(np.concatenate(whole)[:10, 0, 0] * 255).astype(int)
  assert sorted(first_epoch) == sorted(images[:, 0, 0])
