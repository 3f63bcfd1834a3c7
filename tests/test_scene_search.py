"""Per-image search for table-top objects: the hypotheses, the log joint
it ranks them by, and searches that find a lone object."""

import numpy as np
import pytest
import tensorflow as tf

from air_tf import scene_search
from air_tf import shapes
from air_tf import tabletop
from air_tf.tabletop_air import TabletopAIR, TabletopConfig

_PRIOR = 0.01


@pytest.fixture(scope="module")
def model():
  return TabletopAIR(TabletopConfig(image_size=24, lstm_size=8,
                                    image_encoder_hidden=(8,),
                                    baseline_lstm_size=8,
                                    baseline_hidden=(8,)))


@pytest.fixture(scope="module")
def scenes():
  return tabletop.tabletop_scenes(3, seed=11, counts=(1,), image_size=24,
                                  jit_compile=False)


def test_every_count_and_multiset_of_shapes_once():
  candidates = scene_search.hypotheses(3)
  counts = candidates.presence.sum(1).astype(int)
  np.testing.assert_array_equal(np.bincount(counts), [1, 3, 6, 10])
  assert np.all(np.diff(candidates.presence, axis=1) <= 0)  # Leading ones.
  multisets = {(count, tuple(sorted(row[:count])))
               for count, row in zip(counts, candidates.identities)}
  assert len(multisets) == 20


def test_log_joint_is_likelihood_plus_prior(model, scenes):
  candidates = scene_search.hypotheses(3)
  log_joint = scene_search.log_joint_fn(model, scenes.float_images(),
                                        candidates, _PRIOR)
  poses = np.broadcast_to(scenes.poses[np.newaxis, :, np.newaxis],
                          [1, 3, 20, 3, 3]).astype(np.float32)
  value = log_joint(tf.constant(poses)).numpy()
  # Image 0 under the hypothesis of its own single shape, by hand.
  hypothesis = 1 + scenes.identities[0, 0]
  rendered = model.renderer(candidates.presence[hypothesis][np.newaxis],
                            poses[0, 0, hypothesis][np.newaxis],
                            tf.one_hot(candidates.identities[hypothesis],
                                       shapes.NUM_SHAPES)[np.newaxis])
  expected = (model.renderer.likelihood(rendered).log_prob(
      scenes.float_images()[:1])[0] +
              model.prior.count(_PRIOR).log_prob(1) - np.log(3) +
              model.prior.z_where().log_prob(scenes.poses[0, 0]))
  np.testing.assert_allclose(value[0, 0, hypothesis], expected, rtol=1e-5)
  # The truth beats every other hypothesis at the same poses.
  assert np.all(value[0, np.arange(3), 1 + scenes.identities[:, 0]] ==
                value[0].max(axis=1))


@pytest.mark.parametrize("search, steps", [
    (scene_search.adam_search, [60]),
    (scene_search.metropolis_search, [300])])
def test_searches_find_lone_objects(model, scenes, search, steps):
  (found,) = search(model, scenes.float_images(), _PRIOR, steps)
  np.testing.assert_array_equal(found.presence.sum(1), 1)
  figures = tabletop.object_figures(scenes, found.presence, found.poses,
                                    found.identities)
  assert figures["identity_accuracy"] == 1.0
  assert figures["median_position_error"] < 0.05
  assert found.seconds > 0
