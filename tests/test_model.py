"""The model's pieces together: masking, shapes, DAIR, bounds, generation."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from air_tf.model import AIR
from conftest import copy_weights, variable_named

SEED = tf.constant([5, 6])


@pytest.fixture(scope="module", params=[False, True], ids=["air", "dair"])
def model_and_output(request, tiny_config):
  config = dataclasses.replace(tiny_config, dair=request.param)
  model = AIR(config)
  images = tf.random.stateless_uniform([64, 16, 16], [1, 2])
  return model, images, model(images, 0.3, seed=SEED)


def test_outputs_have_fixed_shapes(model_and_output, tiny_config):
  _, _, output = model_and_output
  n, d = tiny_config.max_steps, tiny_config.z_what_size
  assert output.posterior.z_pres.shape == (64, n)
  assert output.posterior.z_where.shape == (64, n, 3)
  assert output.posterior.z_what.shape == (64, n, d)
  assert output.reconstruction.shape == (64, 16, 16)
  assert output.elbo.shape == output.log_weight.shape == (64,)
  for value in (output.elbo, output.log_weight, output.kl_what):
    assert np.isfinite(value).all()


def test_the_decoder_may_draw_coarser_than_the_glimpse(tiny_config):
  config = dataclasses.replace(tiny_config,
                               object_size=tiny_config.window_size // 2)
  model = AIR(config)
  output = model(tf.random.stateless_uniform([4, 16, 16], [1, 2]), 0.3,
                 seed=SEED)
  assert output.reconstruction.shape == (4, 16, 16)
  assert variable_named(model.renderer, "decoder/linear_1/b").shape == (
      config.object_size ** 2,)


def test_nothing_after_the_first_absent_step_counts(model_and_output):
  model, _, output = model_and_output
  z_pres = output.posterior.z_pres.numpy()
  assert (np.diff(z_pres, axis=1) <= 0).all()  # Once 0, always 0.
  absent = z_pres == 0
  assert absent.any() and (~absent).any()  # Both cases are exercised.
  np.testing.assert_array_equal(output.kl_where.numpy()[absent], 0.0)
  np.testing.assert_array_equal(output.kl_what.numpy()[absent], 0.0)
  not_drawn = output.sampled.numpy() == 0
  np.testing.assert_array_equal(output.kl_pres.numpy()[not_drawn], 0.0)
  np.testing.assert_array_equal(output.log_q_discrete.numpy()[not_drawn], 0.0)
  np.testing.assert_array_equal(output.count, z_pres.sum(1))
  # Whatever the absent steps hold, the canvas (the likelihood's mean) is
  # the same.
  garbage = lambda x: tf.where(absent[..., None], 1e3 * tf.ones_like(x), x)
  canvas = model.renderer(output.posterior.z_pres,
                          garbage(output.posterior.z_where),
                          garbage(output.posterior.z_what))
  np.testing.assert_allclose(canvas, output.reconstruction, atol=1e-5)


def test_absent_steps_get_no_gradient(model_and_output):
  model, images, _ = model_and_output
  with tf.GradientTape() as tape:
    output = model(images, 0.3, seed=SEED)
    # Differentiate with respect to the step outputs through the renderer.
    z_where, z_what = output.posterior.z_where, output.posterior.z_what
    tape.watch([z_where, z_what])
    canvas = model.renderer(output.posterior.z_pres, z_where, z_what)
    log_likelihood = model.renderer.likelihood(canvas).log_prob(images)
  grad_where, grad_what = tape.gradient(log_likelihood, [z_where, z_what])
  absent = output.posterior.z_pres.numpy() == 0
  np.testing.assert_array_equal(grad_where.numpy()[absent], 0.0)
  np.testing.assert_array_equal(grad_what.numpy()[absent], 0.0)
  assert np.abs(grad_what.numpy()[~absent]).max() > 0


@pytest.mark.parametrize("learn", [True, False])
def test_held_presence_logits_pass_no_gradient(model_and_output, learn):
  model, images, _ = model_and_output
  variables = model.inference.trainable_variables
  with tf.GradientTape() as tape:
    output = model(images, 0.3, seed=SEED, learn_presence=tf.constant(learn))
    logits = tf.reduce_sum(output.posterior.z_pres_logits)
  gradients = tape.gradient(logits, variables,
                            unconnected_gradients=tf.UnconnectedGradients.ZERO)
  largest = max(float(tf.reduce_max(tf.abs(g))) for g in gradients)
  assert (largest > 0) == learn
  # The values are the same either way.
  np.testing.assert_array_equal(
      output.elbo, model(images, 0.3, seed=SEED).elbo)


def test_deterministic_inference_is_repeatable_and_stops(model_and_output):
  model, images, _ = model_and_output
  first = model(images, 0.3, sample=False)
  second = model(images, 0.3, sample=False)
  np.testing.assert_array_equal(first.posterior.z_pres,
                                second.posterior.z_pres)
  # Without the vote over mirror images (tests/test_inference.py), each
  # step is present where q(z_pres) is above the threshold.
  own = AIR(dataclasses.replace(model.config, count_by_flips=False))
  own(images, 0.3, sample=False)
  copy_weights(model, own)
  counted = own(images, 0.3, sample=False)
  probabilities = tf.sigmoid(counted.posterior.z_pres_logits).numpy()
  drawn = counted.sampled.numpy() > 0
  np.testing.assert_array_equal(
      counted.posterior.z_pres.numpy()[drawn],
      probabilities[drawn] > model.config.count_threshold)


def test_importance_weights_match_the_elbo_on_average(model_and_output):
  # Both estimate the same ELBO: analytic KLs vs sampled log ratios.
  model, images, _ = model_and_output
  repeated = tf.repeat(images[:4], 256, axis=0)
  output = model(repeated, 0.3, seed=tf.constant([9, 9]))
  elbo = output.elbo.numpy().reshape(4, 256)
  log_weight = output.log_weight.numpy().reshape(4, 256)
  difference = (log_weight - elbo).mean(1)
  spread = (log_weight - elbo).std(1) / np.sqrt(256)
  assert (np.abs(difference) < 5 * spread + 1e-2).all()


def test_generate_renders_prior_samples(model_and_output):
  model, _, _ = model_and_output
  scene = model.generate(8, 0.5, tf.constant([1, 1]))
  assert scene["images"].shape == (8, 16, 16)
  empty = scene["count"].numpy() == 0
  np.testing.assert_array_equal(scene["images"].numpy()[empty], 0.0)
  assert (scene["images"].numpy()[~empty].sum((1, 2)) > 0).all()


def test_given_presence_is_kept_and_each_count_scored(model_and_output,
                                                      tiny_config):
  model, images, _ = model_and_output
  n = tiny_config.max_steps
  free = model(images, 0.3, sample=False)
  # Given q's own choices, inference is unchanged.
  given = model(images, 0.3, sample=False, presence=free.posterior.z_pres)
  np.testing.assert_allclose(given.elbo, free.elbo, rtol=1e-5)
  every_step = model(images, 0.3, sample=False, presence=tf.ones([64, n]))
  np.testing.assert_array_equal(every_step.count, n)
  # A 1 after a 0 counts as 0.
  gap = model(images, 0.3, sample=False,
              presence=tf.constant([[0.0] + [1.0] * (n - 1)] * 64))
  np.testing.assert_array_equal(gap.count, 0)

  elbos = model.count_elbos(images, 0.3).numpy()
  assert elbos.shape == (64, n + 1) and np.isfinite(elbos).all()
  # At q's own count the score is the deterministic pass's ELBO with
  # log p(n) in place of q(z_pres)'s KL.
  own = free.count.numpy()
  expected = (free.log_likelihood -
              tf.reduce_sum(free.kl_where + free.kl_what, axis=1) +
              model.prior.count(0.3).log_prob(free.count))
  np.testing.assert_allclose(elbos[np.arange(64), own], expected, rtol=1e-4,
                             atol=1e-3)
  # With no object the image is scored against the empty canvas.
  empty = model.renderer.likelihood(tf.zeros_like(images)).log_prob(images)
  np.testing.assert_allclose(
      elbos[:, 0], empty + model.prior.count(0.3).log_prob(0), rtol=1e-5)


def _assert_enumerated_elbo_is_the_expected_sampled_elbo(model, images, seed,
                                                         enumeration):
  """`enumeration.elbo` is sum_n q(n) ELBO(first n steps present), each
  ELBO sampled with `seed`."""
  max_steps = model.config.max_steps
  probs = enumeration.count_probs.numpy()
  expected = sum(
      probs[:, count] * model(
          images, 0.3, seed=seed,
          presence=tf.sequence_mask(tf.fill([images.shape[0]], count),
                                    max_steps, dtype=tf.float32)).elbo
      for count in range(max_steps + 1))
  np.testing.assert_allclose(enumeration.elbo, expected, rtol=1e-5)


def test_enumerated_elbo_is_the_sampled_elbo_summed_over_the_count(
    model_and_output):
  model, images, _ = model_and_output
  seed = tf.constant([3, 4])
  enumeration = model.enumerate_counts(images, 0.3, seed)
  probs = enumeration.count_probs.numpy()
  np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)
  assert (probs[:, 1:3] > 0.01).any()  # Several counts weigh in.
  _assert_enumerated_elbo_is_the_expected_sampled_elbo(model, images, seed,
                                                       enumeration)
  np.testing.assert_allclose(
      enumeration.elbo, enumeration.log_likelihood - enumeration.kl_count -
      enumeration.kl_where - enumeration.kl_what, rtol=1e-6)


def test_the_contact_cost_is_charged_where_objects_touch(tiny_config):
  model = AIR(tiny_config)
  images = tf.random.stateless_uniform([64, 16, 16], [1, 2])
  n, seed = tiny_config.max_steps, tf.constant([3, 4])
  free = model(images, 0.3, seed=seed)
  free_enumeration = model.enumerate_counts(images, 0.3, seed)
  model.config = dataclasses.replace(tiny_config, ink_contact_cost=2.0)
  charged = model(images, 0.3, seed=seed)
  enumeration = model.enumerate_counts(images, 0.3, seed)
  # The draws are the same; only the prior's factor differs.
  np.testing.assert_array_equal(charged.posterior.z_pres,
                                free.posterior.z_pres)
  contact = charged.contact.numpy()
  np.testing.assert_array_equal(free.contact, 0.0)
  np.testing.assert_array_equal(contact[free.posterior.z_pres == 0], 0.0)
  np.testing.assert_array_equal(contact[:, 0], 0.0)
  assert (contact > 0.01).any()
  for scored in ("elbo", "log_weight"):
    np.testing.assert_allclose(
        getattr(charged, scored),
        getattr(free, scored) - contact.sum(axis=1), rtol=1e-5)
  # Summed over the count, it is the expectation of the sampled ELBOs.
  _assert_enumerated_elbo_is_the_expected_sampled_elbo(model, images, seed,
                                                       enumeration)
  assert (enumeration.contact.numpy() > 0.01).any()
  np.testing.assert_allclose(enumeration.elbo,
                             free_enumeration.elbo - enumeration.contact,
                             rtol=1e-5)
  # Counting by the ELBO charges it too.
  every_step = model(images, 0.3, sample=False, presence=tf.ones([64, n]))
  expected = (every_step.log_likelihood - tf.reduce_sum(
      every_step.kl_where + every_step.kl_what + every_step.contact, axis=1) +
              model.prior.count(0.3).log_prob(n))
  np.testing.assert_allclose(model.count_elbos(images, 0.3)[:, n], expected,
                             rtol=1e-4, atol=1e-3)
  assert (every_step.contact.numpy() > 0.01).any()


def _assert_presence_gradient_is_the_derivative(model, elbo, step):
  """The gradient of sum(elbo()) (`[B]`) in the first step's presence
  bias matches its central difference, and is not negligible."""
  bias = variable_named(model, "pres_where_head/b")
  original = bias.numpy()
  total = lambda: float(tf.reduce_sum(elbo()))
  with tf.GradientTape() as tape:
    summed = tf.reduce_sum(elbo())
  gradient = tape.gradient(summed, bias).numpy()[0]
  try:
    bias.assign(original + step * np.eye(len(original))[0])
    above = total()
    bias.assign(original - step * np.eye(len(original))[0])
    below = total()
  finally:
    bias.assign(original)
  assert abs(gradient) > 1.0
  np.testing.assert_allclose(gradient, (above - below) / (2 * step),
                             rtol=2e-2)


def test_enumerated_elbo_gradient_in_presence_is_its_derivative(
    model_and_output):
  # With the test above (the value is the exact expectation over the
  # count), the presence logits get the exact gradient, no estimate.
  model, images, _ = model_and_output
  seed = tf.constant([1, 1])
  _assert_presence_gradient_is_the_derivative(
      model, lambda: model.enumerate_counts(images[:8], 0.3, seed).elbo,
      step=0.05)


def test_relaxed_pass_cooled_is_the_sampled_pass(model_and_output):
  model, images, output = model_and_output
  cooled = model.relaxed(images, 0.3, SEED, 1e-4)
  np.testing.assert_array_equal(cooled.count, output.count)
  np.testing.assert_allclose(cooled.posterior.z_pres, output.posterior.z_pres,
                             atol=1e-4)
  np.testing.assert_allclose(cooled.elbo, output.elbo, rtol=1e-4, atol=1e-2)


def test_relaxed_elbo_gradient_in_presence_is_its_derivative(
    model_and_output):
  # At a fixed seed the relaxed ELBO is a smooth function of the presence
  # logits, which get its pathwise gradient, no REINFORCE.
  model, images, _ = model_and_output
  _assert_presence_gradient_is_the_derivative(
      model, lambda: model.relaxed(images[:8], 0.3, SEED, 0.5).elbo,
      step=1e-2)


def test_wake_pass_splits_the_gradient_between_model_and_inference(
    model_and_output):
  model, images, output = model_and_output
  images = images[:16]
  with tf.GradientTape(persistent=True) as tape:
    wake = model.wake(images, 0.3, SEED)
    log_joint = wake.log_weight + wake.log_q
  # The same draws and scores as the ordinary sampled pass.
  sampled = model(images, 0.3, seed=SEED)
  np.testing.assert_allclose(wake.log_weight, sampled.log_weight, rtol=1e-5)
  np.testing.assert_allclose(wake.log_q, sampled.log_q, rtol=1e-5)
  rendering = model.renderer.trainable_variables
  known = {variable.ref() for variable in rendering}
  inferring = [variable for variable in model.model_variables
               if variable.ref() not in known]
  def total(gradients):
    return sum(float(tf.reduce_sum(tf.abs(g))) for g in gradients
               if g is not None)
  assert total(tape.gradient(log_joint, inferring)) == 0.0
  assert total(tape.gradient(log_joint, rendering)) > 0.0
  assert total(tape.gradient(wake.log_q, rendering)) == 0.0
  assert total(tape.gradient(wake.log_q, inferring)) > 0.0
