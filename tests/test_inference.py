import dataclasses

import numpy as np
import pytest
import sonnet as snt
import tensorflow as tf

from air_tf import inference
from air_tf.model import AIR, presence_before
from air_tf.prior import Prior
from conftest import copy_weights, variable_named


def test_posterior_stays_in_its_bounds_however_far_the_head_pushes(
    tiny_config):
  tiny_config = dataclasses.replace(tiny_config, z_pres_floor=0.05)
  network = AIR(tiny_config).inference
  images = tf.random.stateless_uniform([4, 16, 16], [0, 1])
  network(images, sample=False)  # Creates the variables.
  floor = tiny_config.z_pres_floor
  low, high = (tiny_config.z_where_prior_loc[0] - tiny_config.scale_range,
               tiny_config.z_where_prior_loc[0] + tiny_config.scale_range)
  bias = variable_named(network, "pres_where_head/b")
  for push in (-1e3, 1e3):
    bias.assign(tf.fill(bias.shape, push))
    posterior = network(images, tf.constant([1, 2]))
    probs = tf.sigmoid(posterior.z_pres_logits[:, 0]).numpy()
    np.testing.assert_allclose(probs, floor if push < 0 else 1 - floor,
                               rtol=1e-3)
    first_step = posterior.z_where_loc[:, 0].numpy()
    assert ((first_step[:, 0] >= low) & (first_step[:, 0] <= high)).all()
    assert (np.abs(first_step[:, 1:]) <= tiny_config.position_range).all()
    assert np.isfinite(posterior.z_where.numpy()).all()


def test_loop_stops_once_every_image_is_done(tiny_config):
  # The vote's passes run every step (`infer_by_vote`); one pass stops.
  network = AIR(dataclasses.replace(tiny_config,
                                    count_by_flips=False)).inference
  images = tf.zeros([3, 16, 16])
  network(images, sample=False)
  bias = variable_named(network, "pres_where_head/b")
  bias.assign(tf.tensor_scatter_nd_update(bias, [[0]], [-1e3]))
  posterior = network(images, sample=False)
  np.testing.assert_array_equal(posterior.z_pres, np.zeros([3, 3]))
  # Steps the loop never ran keep finite placeholder values.
  np.testing.assert_array_equal(posterior.z_where_scale[:, 1:], 1.0)


@pytest.mark.parametrize("dair", [False, True])
def test_deterministic_count_is_the_leading_steps_above_the_threshold(
    tiny_config, dair):
  # Step i's logit depends only on steps < i, so the logits of a pass with
  # every step present decide the count at any threshold.
  images = tf.random.stateless_uniform([64, 16, 16], [5, 5]) * tf.linspace(
      0.0, 1.0, 64)[:, tf.newaxis, tf.newaxis]
  models = {}
  for threshold in (0.5, 0.2, 0.8):
    models[threshold] = AIR(dataclasses.replace(
        tiny_config, dair=dair, count_threshold=threshold,
        count_by_flips=False))
    models[threshold].build()
  reference = models[0.5]
  every_step = lambda: reference(
      images, 0.5, sample=False,
      presence=tf.ones([64, tiny_config.max_steps])).posterior.z_pres_logits
  # First-step logits spread (std 3) around 0, so that each threshold
  # decides some images differently.
  weights = variable_named(reference, "pres_where_head/w")
  bias = variable_named(reference, "pres_where_head/b")
  linear = every_step().numpy()[:, 0] - bias.numpy()[0]
  stretch = 3.0 / linear.std()
  weights.assign(tf.concat([stretch * weights[:, :1], weights[:, 1:]],
                           axis=1))
  bias.assign(tf.tensor_scatter_nd_update(
      bias, [[0]], [-stretch * np.median(linear)]))
  for model in models.values():
    copy_weights(reference, model)
  logits = every_step().numpy()
  counts = {}
  for threshold, model in models.items():
    counts[threshold] = model(images, 0.5, sample=False).count.numpy()
    above = logits > np.log(threshold / (1 - threshold))
    np.testing.assert_array_equal(counts[threshold],
                                  np.cumprod(above, axis=1).sum(axis=1))
  # The thresholds decide differently on these images.
  assert (counts[0.2] > counts[0.5]).any() and (
      counts[0.8] < counts[0.5]).any()


def test_mirror_images_flip_back_to_the_images():
  images = tf.random.stateless_uniform([2, 5, 7], [3, 1])
  mirrored = inference.mirror_images(images).numpy()
  assert mirrored.shape == (8, 5, 7)
  left_right, up_down, both = (mirrored[2 * k:2 * k + 2] for k in (1, 2, 3))
  np.testing.assert_array_equal(mirrored[:2], images)
  np.testing.assert_array_equal(left_right[:, :, ::-1], images)
  np.testing.assert_array_equal(up_down[:, ::-1, :], images)
  np.testing.assert_array_equal(both[:, ::-1, ::-1], images)


@pytest.mark.parametrize("counts, voted", [
    ([2, 2, 2, 2], 2),  # Unanimous.
    ([1, 2, 2, 0], 2),  # Most passes.
    ([1, 2, 1, 2], 1),  # Two against two: the image's own count.
    ([2, 1, 1, 2], 2),
    ([0, 1, 2, 3], 0),  # All differ: the image's own count.
    ([3, 1, 1, 1], 1),
])
def test_vote_counts_takes_the_most_common_count_then_the_images_own(
    counts, voted):
  columns = tf.constant([counts, counts[::-1]], tf.int32)  # [B = 2, M]
  result = inference.vote_counts(tf.transpose(columns), max_count=3).numpy()
  own_first_reversed = counts[::-1]
  votes = np.bincount(own_first_reversed, minlength=4)
  tied = (votes == votes.max()).sum() > 1
  assert result[0] == voted
  assert result[1] == (own_first_reversed[0] if tied else votes.argmax())


def test_vote_counts_ties_go_to_the_first_pass_with_a_most_voted_count():
  counts = tf.constant([[0, 2, 1, 2, 1], [0, 1, 2, 1, 2], [3, 3, 0, 0, 1]])
  np.testing.assert_array_equal(
      inference.vote_counts(tf.transpose(counts), max_count=3), [2, 1, 3])


def _ink_square(size: int, top: int, left: int, side: int) -> np.ndarray:
  image = np.zeros([size, size], np.float32)
  image[top:top + side, left:left + side] = 1.0
  return image


def test_zoom_onto_ink_enlarges_the_ink_as_far_as_it_stays_on_the_canvas():
  images = np.stack([
      _ink_square(40, 14, 18, 8),  # Small: enlarged the most, 1.25 times.
      _ink_square(40, 1, 1, 34),  # 34 + 2 px of margin: 40 / 36 times.
      _ink_square(40, 0, 0, 40),  # Spans the canvas: as it is.
      np.zeros([40, 40], np.float32),  # No ink: as it is.
      _ink_square(40, 0, 30, 8),  # At an edge: the view stays on the image.
  ])
  zoomed = inference.zoom_onto_ink(tf.constant(images)).numpy()
  factors = np.array([inference.MAX_ZOOM_IN, 40 / 36, 1.0, 1.0,
                      inference.MAX_ZOOM_IN])
  np.testing.assert_allclose(zoomed.sum(axis=(1, 2)),
                             factors ** 2 * images.sum(axis=(1, 2)),
                             rtol=0.03)
  np.testing.assert_allclose(zoomed[2:4], images[2:4], atol=1e-5)
  # The small square is centred; the one at the top edge stays there.
  ink_rows, ink_columns = np.nonzero(zoomed[0] > 0.5)
  assert ink_rows.min() + ink_rows.max() == 39
  assert ink_columns.min() + ink_columns.max() == 39
  assert zoomed[4, 0, 33] > 0.5


@pytest.mark.parametrize("zooms", [False, True])
def test_counting_by_vote_is_the_vote_of_its_passes_counts(tiny_config,
                                                           zooms):
  own = AIR(dataclasses.replace(tiny_config, dair=True,
                                count_by_flips=False))
  voting = AIR(dataclasses.replace(tiny_config, dair=True,
                                   count_by_zooms=zooms))
  images = tf.random.stateless_uniform([64, 16, 16], [7, 7]) * tf.linspace(
      0.0, 1.0, 64)[:, tf.newaxis, tf.newaxis]
  own.build()
  voting.build()
  # First-step presence logits spread around the threshold, so that the
  # passes disagree on some images.
  bias = variable_named(own, "pres_where_head/b")
  logits = own(images, 0.5, sample=False,
               presence=tf.ones([64, 3])).posterior.z_pres_logits.numpy()
  bias.assign(tf.tensor_scatter_nd_update(
      bias, [[0]], [bias[0] - np.median(logits[:, 0]) +
                    np.log(tiny_config.count_threshold /
                           (1 - tiny_config.count_threshold))]))
  copy_weights(own, voting)
  passes = inference.vote_passes(images, zooms)
  assert passes.shape[0] == (12 if zooms else 4) * 64
  np.testing.assert_array_equal(passes[:64], images)
  counts = np.stack([own(batch, 0.5, sample=False).count.numpy()
                     for batch in tf.split(passes, passes.shape[0] // 64)])
  assert (counts != counts[0]).any()  # The vote has something to decide.
  expected = []
  for votes in counts.T:
    most = np.bincount(votes) == np.bincount(votes).max()
    expected.append(votes[np.argmax(most[votes])])
  voted = voting(images, 0.5, sample=False)
  np.testing.assert_array_equal(voted.count, expected)
  # The objects are the image's own pass's under the voted count, and so
  # are q's probabilities up to the first step it turns off (the steps
  # after that one mean nothing).
  forced = own(images, 0.5, sample=False, presence=tf.sequence_mask(
      expected, 3, dtype=tf.float32))
  np.testing.assert_array_equal(voted.posterior.z_pres,
                                forced.posterior.z_pres)
  reached = presence_before(voted.posterior.z_pres).numpy()
  for field in ("z_pres_logits", "z_where", "z_what"):
    voted_values, forced_values = (getattr(output.posterior, field).numpy()
                                   for output in (voted, forced))
    mask = reached.reshape(reached.shape + (1,) * (voted_values.ndim - 2))
    np.testing.assert_allclose(voted_values * mask, forced_values * mask,
                               rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(voted.reconstruction, forced.reconstruction,
                             rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(voted.elbo, forced.elbo, rtol=1e-5)


def test_draws_are_the_distributions_and_do_not_depend_on_the_split():
  seed = tf.constant([4, 2])
  logits = tf.random.stateless_normal([10], [1, 1])
  loc = tf.random.stateless_normal([10, 3], [2, 2])
  scale = tf.random.stateless_uniform([10, 3], [3, 3], 0.5, 2.0)
  np.testing.assert_array_equal(
      inference.draw_presence(logits, seed),
      inference.pres_distribution(logits).sample(seed=seed))
  np.testing.assert_allclose(
      inference.draw_normal(loc, scale, seed),
      inference.normal_distribution(loc, scale).sample(seed=seed),
      rtol=1e-6)
  one_hot_logits = tf.tile(tf.math.log([[0.2, 0.5, 0.3]]), [10, 1])
  # Each image draws what it draws in the whole batch, however split.
  for draw, arguments in ((inference.draw_presence, (logits,)),
                          (inference.draw_normal, (loc, scale)),
                          (inference.draw_one_hot, (one_hot_logits,))):
    whole = draw(*arguments, seed)
    parts = [draw(*[argument[first:first + 5] for argument in arguments],
                  seed, inference.BatchPart(first, 10))
             for first in (0, 5)]
    np.testing.assert_array_equal(tf.concat(parts, 0), whole)


def test_one_hot_draws_follow_the_softmax():
  probabilities = np.array([0.2, 0.5, 0.3])
  logits = tf.tile(tf.math.log([probabilities.astype(np.float32)]),
                   [20000, 1])
  draws = inference.draw_one_hot(logits, tf.constant([7, 7])).numpy()
  assert (draws.sum(1) == 1).all()
  # Three binomial standard errors.
  np.testing.assert_allclose(draws.mean(0), probabilities,
                             atol=3 * np.sqrt(0.25 / 20000))


def test_relaxed_presence_is_the_binary_concrete_of_the_bernoulli_draw():
  logit, temperature, seed = 0.7, 0.5, tf.constant([8, 8])
  logits = tf.fill([20000], logit)
  with tf.GradientTape() as tape:
    tape.watch(logits)
    relaxed = inference.draw_relaxed_presence(logits, temperature, seed)
  gradient = tape.gradient(relaxed, logits).numpy()
  relaxed = relaxed.numpy()
  assert ((relaxed >= 0) & (relaxed <= 1)).all()  # float32 may reach 0, 1.
  # Rounded, the Bernoulli draw of the same seed.
  np.testing.assert_array_equal(
      (relaxed > 0.5).astype(np.float32),
      inference.draw_presence(logits, seed))
  # Its CDF, P(y < v) = sigmoid(temperature logit(v) - logit) (Maddison et
  # al., 2017), within three binomial standard errors.
  values = np.array([0.05, 0.3, 0.5, 0.7, 0.95])
  cdf = 1 / (1 + np.exp(-(temperature * np.log(values / (1 - values)) -
                          logit)))
  empirical = (relaxed[:, None] < values).mean(0)
  np.testing.assert_allclose(empirical, cdf, atol=3 * np.sqrt(0.25 / 20000))
  # d sigmoid((logit - noise) / t) / d logit = y (1 - y) / t.
  np.testing.assert_allclose(gradient, relaxed * (1 - relaxed) / temperature,
                             rtol=1e-4, atol=1e-7)


def test_count_distribution_is_the_chain_of_step_presences():
  logits = tf.random.stateless_normal([5, 3], [7, 7], stddev=3.0)
  q = tf.sigmoid(logits).numpy()
  probs = inference.count_distribution(logits).probs_parameter().numpy()
  np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)
  expected = np.stack([(1 - q[:, 0]), q[:, 0] * (1 - q[:, 1]),
                       q[:, 0] * q[:, 1] * (1 - q[:, 2]),
                       q[:, 0] * q[:, 1] * q[:, 2]], axis=1)
  np.testing.assert_allclose(probs, expected, rtol=1e-5, atol=1e-7)
  # With every step the prior's probability, it is the prior's count.
  p = 0.3
  prior = Prior(3, 2, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)).count(p)
  constant = tf.fill([1, 3], float(np.log(p / (1 - p))))
  np.testing.assert_allclose(
      inference.count_distribution(constant).probs_parameter()[0],
      prior.probs_parameter(), rtol=1e-5)


def test_dair_returns_the_objects_it_drew_and_air_none(tiny_config):
  images = tf.random.stateless_uniform([6, 16, 16], [3, 3])
  for dair in (True, False):
    model = AIR(dataclasses.replace(tiny_config, dair=dair))
    every_step = tf.ones([6, tiny_config.max_steps])
    posterior, objects = model.inference.infer_and_draw(
        images, tf.constant([1, 2]), presence=every_step)
    if not dair:
      assert objects is None
      continue
    np.testing.assert_allclose(
        objects, model.renderer.objects(posterior.z_where, posterior.z_what),
        atol=1e-6)


def _kernel(convolutions):
  (kernel,) = [v for v in convolutions.trainable_variables
               if v.name.endswith("/w:0")]
  return kernel


def test_image_convolutions_halve_the_sides_rounding_up():
  for shape, expected in (([2, 50, 50, 1], [2, 25, 25, 3]),
                          ([1, 8, 7, 1], [1, 4, 4, 3])):
    inputs = tf.random.stateless_normal(shape, [0, 1])
    assert inference.image_convolutions((3,))(inputs).shape == expected


def test_step_scale_keeps_the_function_and_scales_adams_step():
  inputs = tf.random.stateless_normal([2, 9, 9, 1], [0, 2])
  steps = {}
  for step_scale in (1.0, 0.1):
    tf.random.set_seed(7)
    convolutions = inference.image_convolutions((3,), step_scale)
    before = convolutions(inputs)
    kernel = _kernel(convolutions)
    assert kernel.shape == (3, 3, 1, 3)
    kernel_before = step_scale * kernel.numpy()
    with tf.GradientTape() as tape:
      loss = tf.reduce_sum(tf.sin(convolutions(inputs)))
    snt.optimizers.Adam(1e-2).apply(tape.gradient(loss, [kernel]), [kernel])
    steps[step_scale] = step_scale * kernel.numpy() - kernel_before
    if step_scale == 1.0:
      reference = before
    else:
      np.testing.assert_allclose(before, reference, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(steps[0.1], 0.1 * steps[1.0], rtol=1e-3,
                             atol=1e-7)


def test_convolutional_image_encoder_reads_the_residual(tiny_config):
  config = dataclasses.replace(tiny_config, image_encoder_channels=(4, 8))
  network = AIR(config).inference
  images = tf.random.stateless_uniform([2, 16, 16], [0, 1])
  network(images, sample=False)
  kernel = variable_named(network, "conv_1/w")
  assert kernel.shape == (3, 3, 4, 8)
  # 16 -> 8 -> 4 pixels of 8 channels feed the embedding MLP.
  first_layer = variable_named(network, "image_encoder/linear_0/w")
  assert first_layer.shape[0] == 4 * 4 * 8


def test_salient_ink_is_odd_increasing_and_lifts_faint_ink():
  values = tf.constant([-1.0, -0.3, -1e-6, 0.0, 1e-6, 0.3, 1.0])
  salient = inference.salient_ink(values).numpy()
  np.testing.assert_allclose(salient, -salient[::-1], rtol=1e-6)
  assert (np.diff(salient) > 0).all()
  assert salient[3] == 0.0
  np.testing.assert_allclose(salient[4:], [0.1, 0.556776, 1.004988],
                             rtol=1e-4)


def test_reader_square_root_embeds_the_salient_ink(tiny_config):
  images = tf.random.stateless_uniform([2, 16, 16], [0, 3], minval=-1.0)
  networks = {}
  # pylint: disable=protected-access
  for reader_square_root in (False, True):
    networks[reader_square_root] = AIR(dataclasses.replace(
        tiny_config, reader_square_root=reader_square_root)).inference
    networks[reader_square_root]._embed(images)  # Creates the variables.
  for mine, other in zip(networks[True].trainable_variables,
                         networks[False].trainable_variables):
    mine.assign(other)
  salient_read = networks[True]._embed(images)
  np.testing.assert_allclose(
      salient_read, networks[False]._embed(inference.salient_ink(images)),
      rtol=1e-5, atol=1e-6)
  assert np.abs(salient_read - networks[False]._embed(images)).max() > 1e-3


def test_centring_moves_windows_that_fraction_of_the_way_to_their_ink():
  residuals = np.zeros([3, 20, 20], np.float32)
  residuals[0, 2:6, 11:15] = 1.0  # Centre (0.3, -0.6).
  residuals[0, 2:6, 16:] = 1.0  # Outside the window.
  residuals[1, 2:6, 11:15] = -1.0  # Overdrawn, not ink left.
  residuals[2, 14:18, 2:6] = 1.0  # Outside the window.
  z_where_loc = tf.constant([[2.0, 0.0, -0.5]] * 3)
  for fraction in (0.0, 0.5, 1.0):
    moved = inference.centre_windows_on_ink(residuals, z_where_loc,
                                            fraction).numpy()
    np.testing.assert_allclose(
        moved[0], [2.0, fraction * 0.3, -0.5 + fraction * (-0.6 + 0.5)],
        rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(moved[1:], z_where_loc[1:])


def test_centring_passes_the_windows_gradient_scaled_and_none_to_the_ink():
  residuals = tf.random.stateless_uniform([4, 20, 20], [0, 4])
  z_where_loc = tf.constant([[2.0, 0.1, -0.2]] * 4)
  with tf.GradientTape(persistent=True) as tape:
    tape.watch([residuals, z_where_loc])
    moved = inference.centre_windows_on_ink(residuals, z_where_loc, 0.25)
  np.testing.assert_allclose(tape.gradient(moved, z_where_loc),
                             [[1.0, 0.75, 0.75]] * 4, rtol=1e-6)
  assert tape.gradient(moved, residuals) is None


def test_centring_moves_each_steps_window_on_what_is_left(tiny_config):
  images = tf.random.stateless_uniform([2, 16, 16], [0, 5])
  networks = {fraction: AIR(dataclasses.replace(
      tiny_config, dair=True, window_centring=fraction)).inference
              for fraction in (0.0, 0.5)}
  present = tf.ones([2, tiny_config.max_steps])
  for network in networks.values():
    network(images, sample=False, presence=present)
  copy_weights(networks[0.0], networks[0.5])
  centred, objects = networks[0.5].infer_and_draw(images, sample=False,
                                                  presence=present)
  # The plain network at the centred run's latents: its window means are
  # those before each move.
  plain = networks[0.0](images, sample=False, presence=present,
                        given=(centred.z_where, centred.z_what))
  for step in range(tiny_config.max_steps):
    residual = images - tf.reduce_sum(objects[:, :step], axis=1)
    np.testing.assert_allclose(
        centred.z_where_loc[:, step],
        inference.centre_windows_on_ink(
            residual, plain.z_where_loc[:, step], 0.5),
        rtol=1e-5, atol=1e-6)
  assert np.abs(centred.z_where_loc - plain.z_where_loc).max() > 1e-3
