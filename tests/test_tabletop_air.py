"""AIR with the fixed table-top renderer: its outputs, and training steps of
the unchanged `Trainer` raising its ELBO."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from air_tf import shapes
from air_tf import tabletop
from air_tf import tabletop_air
from air_tf.model import score
from air_tf.tabletop_air import TabletopAIR, TabletopConfig
from air_tf.tabletop_renderer import project
from air_tf.training import TrainConfig, Trainer

# Without DAIR the renderer is called once per pass, outside the inference
# loop, which keeps the trace of a training step short.
_CONFIG = TabletopConfig(image_size=32, lstm_size=32,
                         image_encoder_hidden=(32,), baseline_lstm_size=16,
                         baseline_hidden=(16,), dair=False)


@pytest.fixture(scope="module")
def images():
  scenes = tabletop.tabletop_scenes(
      8, seed=0, image_size=32, jit_compile=False)
  return tf.constant(scenes.float_images())


def test_output_shapes_and_discrete_latents(images):
  tf.random.set_seed(0)
  model = TabletopAIR(_CONFIG)
  output = model(images, 0.5, seed=tf.constant([0, 1]))
  posterior = output.posterior
  n, s = _CONFIG.max_steps, shapes.NUM_SHAPES
  assert output.reconstruction.shape == images.shape
  assert posterior.z_where.shape == (8, n, 3)
  assert posterior.z_what.shape == (8, n, s)
  np.testing.assert_array_equal(tf.reduce_sum(posterior.z_what, -1), 1.0)
  not_drawn = output.sampled.numpy() == 0
  np.testing.assert_array_equal(output.log_q_discrete.numpy()[not_drawn], 0)
  for value in (output.elbo, output.log_weight, output.log_likelihood):
    assert np.all(np.isfinite(value.numpy()))
  # Absent objects cost nothing; present ones their identity's KL.
  absent = posterior.z_pres.numpy() == 0
  np.testing.assert_array_equal(output.kl_what.numpy()[absent], 0.0)


def test_training_steps_raise_the_elbo(images):
  tf.random.set_seed(0)
  # Two steps: each step's identity enumeration renders the scene three
  # more times.
  model = TabletopAIR(dataclasses.replace(_CONFIG, max_steps=2))
  trainer = Trainer(model, TrainConfig(batch_size=8, samples_per_image=2,
                                       learning_rate=3e-3, jit_compile=False,
                                       z_pres_prior=0.01))

  def mean_elbo():
    return np.mean([model(images, 0.01, seed=tf.constant([7, k])).elbo
                    for k in range(8)])

  before = mean_elbo()
  for _ in range(40):
    trainer.train_step(images)
  after = mean_elbo()
  assert after > before + 50, (before, after)


def test_bad_configuration_is_refused():
  with pytest.raises(ValueError, match="likelihood_std must be > 0"):
    TabletopConfig(likelihood_std=0.0)
  with pytest.raises(ValueError, match="pose_prior_scale must be three"):
    TabletopConfig(pose_prior_scale=(0.4, 0.4))
  with pytest.raises(ValueError, match="glimpse_hidden must be layer sizes"):
    TabletopConfig(glimpse_hidden=(0,))


def test_forced_presence_and_elbo_of_each_count(images):
  tf.random.set_seed(0)
  model = TabletopAIR(_CONFIG)
  presence = tf.constant([[1.0, 1.0, 0.0]] * 8)
  output = model(images, 0.5, sample=False, presence=presence)
  np.testing.assert_array_equal(output.count, 2)
  elbos = model.count_elbos(images, 0.5)
  assert elbos.shape == (8, _CONFIG.max_steps + 1)
  assert np.all(np.isfinite(elbos.numpy()))


def test_the_count_is_not_summed_out_of_discrete_identities():
  for objective in ("enumerate", "rws"):
    with pytest.raises(ValueError, match="train it with objective 'elbo'"):
      Trainer(TabletopAIR(_CONFIG), TrainConfig(objective=objective))


def test_object_boxes_at_the_true_poses_are_the_scenes_boxes():
  scenes = tabletop.tabletop_scenes(8, seed=2, counts=(1, 2, 3),
                                    image_size=32, jit_compile=False)
  model = TabletopAIR(_CONFIG)
  one_hot = np.eye(shapes.NUM_SHAPES, dtype=np.float32)[
      np.maximum(scenes.identities, 0)]
  boxes = model.object_boxes(tf.constant(scenes.poses),
                             tf.constant(one_hot)).numpy()
  present = scenes.identities >= 0
  # The model's softer edges move a silhouette's border by under a pixel.
  np.testing.assert_allclose(boxes[present], scenes.boxes[present], atol=1)


def test_table_points_project_back_to_their_pixels():
  camera = tabletop.make_scene_renderer(16).camera
  points = tabletop_air._table_points(camera)
  height = np.mean([shape.half_height for shape in shapes.SHAPES])
  world = np.concatenate([points, np.full([len(points), 1], height)], 1)
  rows, columns = np.meshgrid(np.arange(16) + 0.5, np.arange(16) + 0.5,
                              indexing="ij")
  np.testing.assert_allclose(
      project(world, camera),
      np.stack([rows.ravel(), columns.ravel()], axis=1), atol=1e-3)


def test_residual_attention_starts_near_a_lone_object():
  scenes = tabletop.tabletop_scenes(32, seed=5, counts=(1,), image_size=32,
                                    jit_compile=False)
  model = TabletopAIR(dataclasses.replace(_CONFIG, dair=True))
  residual = tf.constant(scenes.float_images()) - model.renderer.background()
  start = model.inference._attend(residual).numpy()
  errors = np.linalg.norm(start - scenes.poses[:, 0, :2], axis=1)
  # Objects' footprints are 0.22-0.28 in radius: the start overlaps them.
  assert np.median(errors) < 0.2 and np.max(errors) < 0.35, errors


def test_glimpse_holds_a_lone_object_at_its_centre():
  scenes = tabletop.tabletop_scenes(16, seed=6, counts=(1,), image_size=32,
                                    jit_compile=False)
  model = TabletopAIR(_CONFIG)
  residual = tf.constant(scenes.float_images()) - model.renderer.background()
  glimpses = model.inference._glimpse(
      residual, tf.constant(scenes.poses[:, 0, :2])).numpy()
  ink = np.abs(glimpses).sum(-1)  # [B, G, G]
  size = ink.shape[1]
  rows, columns = np.mgrid[:size, :size]
  for axis in (rows, columns):
    centre = (ink * axis).sum((1, 2)) / ink.sum((1, 2))
    np.testing.assert_allclose(centre, (size - 1) / 2, atol=1.0)
  # The whole object, nothing of its box cut off.
  in_box = [np.abs(image[int(top):int(np.ceil(bottom)),
                         int(left):int(np.ceil(right))]).sum()
            for image, (top, left, bottom, right) in zip(
                residual.numpy(), scenes.boxes[:, 0])]
  assert np.all(ink.sum((1, 2)) > 0.98 * np.array(in_box))


def test_rotation_is_read_within_one_period_of_the_shapes():
  """Every rotation that looks the same is one output of the network: the
  means lie within a quarter turn (the cube's symmetry) and cover it."""
  model = TabletopAIR(dataclasses.replace(_CONFIG, max_steps=1))
  model.build(baseline=False)
  images = tf.random.stateless_uniform([256, 32, 32, 3], seed=[4, 2])
  rotation = model(images, 0.5, sample=False).posterior.z_where[:, 0, 2]
  quarter = np.pi / 2
  assert np.all(np.abs(rotation) <= quarter / 2 + 1e-6)
  assert np.ptp(rotation) > quarter / 2


def test_enumerated_identity_gradient_is_the_expectations(images):
  tf.random.set_seed(0)
  model = TabletopAIR(_CONFIG)
  seed = tf.constant([3, 4])
  posterior = model.inference(images, seed)
  # The sampled ELBO keeps its value: the added term is zero.
  np.testing.assert_allclose(
      model(images, 0.5, seed=seed).elbo,
      score(posterior, images, 0.5, model.prior, model.renderer).elbo,
      rtol=1e-6)
  logits = tf.constant(posterior.z_what_logits)
  steps, num_shapes = _CONFIG.max_steps, shapes.NUM_SHAPES
  with tf.GradientTape(persistent=True) as tape:
    tape.watch(logits)
    term = model._identity_expectation(
        images, posterior._replace(z_what_logits=logits))
    # sum_i z_pres_i sum_k q_i(k) log p(x | identity_i = k), written out.
    q = tf.nn.softmax(logits)
    expectation = 0.0
    for i in range(steps):
      for k in range(num_shapes):
        identities = np.array(posterior.z_what)
        identities[:, i] = np.eye(num_shapes)[k]
        log_likelihood = model.renderer.likelihood(model.renderer(
            posterior.z_pres, posterior.z_where, identities)).log_prob(images)
        expectation += tf.reduce_sum(posterior.z_pres[:, i] * q[:, i, k] *
                                     log_likelihood)
  np.testing.assert_array_equal(term, 0.0)
  expected = tape.gradient(expectation, logits).numpy()
  assert np.abs(expected).max() > 1.0  # Present objects make it nonzero.
  np.testing.assert_allclose(tape.gradient(term, logits), expected,
                             rtol=1e-4, atol=1e-3)


def test_finite_difference_renderer_gradients_follow_autodiff():
  """The paper's finite differences through the renderer give nearly the
  gradient autodiff gives, for poses a few pixels and degrees off the
  scenes' own (where training spends its time)."""
  scenes = tabletop.tabletop_scenes(8, seed=0, image_size=32,
                                    jit_compile=False)
  images = tf.constant(scenes.float_images())
  presence = tf.constant(
      np.arange(scenes.poses.shape[1]) < scenes.counts[:, np.newaxis],
      tf.float32)
  identities = tf.one_hot(np.maximum(scenes.identities, 0),
                          shapes.NUM_SHAPES)
  pose = tf.constant(scenes.poses + np.float32([0.04, -0.04, 0.2]))
  gradients = {}
  for kind in tabletop_air.RENDERER_GRADIENTS:
    model = TabletopAIR(dataclasses.replace(_CONFIG,
                                            renderer_gradients=kind))
    with tf.GradientTape() as tape:
      tape.watch(pose)
      log_likelihood = model.renderer.likelihood(model.renderer(
          presence, pose, identities)).log_prob(images)
    gradients[kind] = tape.gradient(log_likelihood, pose).numpy()[
        presence.numpy() > 0]
  autodiff, finite = gradients["autodiff"], gradients["finite_differences"]
  assert np.abs(autodiff).max() > 1.0
  cosine = lambda a, b: a @ b / np.linalg.norm(a) / np.linalg.norm(b)
  assert cosine(autodiff.ravel(), finite.ravel()) > 0.99
  # The rotation moves only a cube's corners: fewer pixels, coarser
  # differences (0.977 when written).
  assert cosine(autodiff[:, 2], finite[:, 2]) > 0.95


def test_bad_renderer_gradients_are_refused():
  with pytest.raises(ValueError, match="renderer_gradients must be one of"):
    TabletopConfig(renderer_gradients="numerical")


def test_finite_differences_train_a_dair_model():
  """DAIR renders inside the inference loop, where the finite differences'
  custom gradient cannot go: the model still differentiates."""
  model = TabletopAIR(TabletopConfig(
      image_size=16, max_steps=1, lstm_size=8, image_encoder_hidden=(8,),
      baseline_lstm_size=4, baseline_hidden=(4,),
      renderer_gradients="finite_differences"))
  images = tf.constant(tabletop.tabletop_scenes(
      2, seed=0, counts=(1,), image_size=16, jit_compile=False).float_images())

  @tf.function
  def gradients():
    with tf.GradientTape() as tape:
      elbo = tf.reduce_sum(model(images, 0.5, seed=tf.constant([0, 1])).elbo)
    return tape.gradient(elbo, model.inference.trainable_variables)

  model.build(baseline=False)
  values = gradients()
  assert all(np.all(np.isfinite(value.numpy())) for value in values)
  assert max(np.abs(value.numpy()).max() for value in values) > 0
