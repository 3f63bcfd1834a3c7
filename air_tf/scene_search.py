"""Per-image search for a table-top scene's objects through the fixed
renderer: the slow alternatives to AIR's one forward pass (the paper's
speed comparison).

Every hypothesis of count and identities (objects are interchangeable, so
a multiset of shapes: 20 for up to 3 objects of 3 shapes) gets its own
poses, searched in parallel for each image, and the hypothesis and poses
of the highest log joint p(x, z) under table-top AIR's own model win.
Two searches: Adam on the poses from random starts, and random-walk
Metropolis (TFP) from random starts, keeping the best state seen.
"""

import itertools
import time
from typing import Callable, NamedTuple, Sequence

import numpy as np
import sonnet as snt
import tensorflow as tf
import tensorflow_probability as tfp

from air_tf import pose_fitting
from air_tf import shapes
from air_tf import training
from air_tf.tabletop_air import TabletopAIR


class Hypotheses(NamedTuple):
  """Counts and identities to search over, `[H, N]`."""
  presence: np.ndarray  # [H, N] float32 1 for the first `count` slots.
  identities: np.ndarray  # [H, N] int32 shape index; 0 where absent.


def hypotheses(max_objects: int) -> Hypotheses:
  """Every count 0..`max_objects` with every multiset of shapes."""
  presence, identities = [], []
  for count in range(max_objects + 1):
    for chosen in itertools.combinations_with_replacement(
        range(shapes.NUM_SHAPES), count):
      presence.append([1.0] * count + [0.0] * (max_objects - count))
      identities.append(list(chosen) + [0] * (max_objects - count))
  return Hypotheses(np.array(presence, np.float32),
                    np.array(identities, np.int32))


class Found(NamedTuple):
  """The best hypothesis per image after some search, and its cost.

  Attributes:
    presence: `[B, N]` bool.
    identities: `[B, N]` int32.
    poses: `[B, N, 3]`.
    log_joint: `[B]` log p(x, z) of the winner.
    seconds: wall-clock time of the search so far, for the whole batch
      (tracing and compiling left out).
  """
  presence: np.ndarray
  identities: np.ndarray
  poses: np.ndarray
  log_joint: np.ndarray
  seconds: float


def log_joint_fn(model: TabletopAIR, images: np.ndarray,
                 candidates: Hypotheses, z_pres_prob: float
                 ) -> Callable[[tf.Tensor], tf.Tensor]:
  """log p(x, z) of poses `[C, B, H, N, 3]` (C chains per image and
  hypothesis) under `model`'s prior and renderer, `[C, B, H]`."""
  batch_size = len(images)
  num_hypotheses, steps = candidates.presence.shape
  images = tf.constant(images, tf.float32)
  presence = tf.constant(candidates.presence)
  one_hot = tf.one_hot(candidates.identities, shapes.NUM_SHAPES)
  counts = tf.cast(tf.reduce_sum(presence, axis=1), tf.int32)
  log_prior_of_hypothesis = (
      model.prior.count(z_pres_prob).log_prob(counts) +
      tf.reduce_sum(presence, 1) * -np.log(shapes.NUM_SHAPES))

  def log_joint(poses):
    chains = tf.shape(poses)[0]
    flat = lambda value: tf.reshape(tf.broadcast_to(
        value, tf.concat([[chains, batch_size], tf.shape(value)], 0)),
        tf.concat([[-1], tf.shape(value)[1:]], 0))
    rendered = model.renderer(flat(presence), tf.reshape(poses,
                                                         [-1, steps, 3]),
                              flat(one_hot))
    targets = tf.repeat(tf.tile(images, [chains, 1, 1, 1]), num_hypotheses,
                        axis=0)
    log_likelihood = tf.reshape(
        model.renderer.likelihood(rendered).log_prob(targets),
        [chains, batch_size, num_hypotheses])
    log_pose = tf.reduce_sum(presence * model.prior.z_where().log_prob(poses),
                             axis=-1)
    return log_likelihood + log_pose + log_prior_of_hypothesis
  return log_joint


def _best(candidates: Hypotheses, poses: np.ndarray, log_joint: np.ndarray,
          seconds: float) -> Found:
  """The best chain and hypothesis per image of `[C, B, H, ...]`."""
  chains, batch_size, num_hypotheses = log_joint.shape
  flat = log_joint.transpose(1, 0, 2).reshape(batch_size, -1)
  winner = flat.argmax(axis=1)
  chain, hypothesis = np.unravel_index(winner, (chains, num_hypotheses))
  images = np.arange(batch_size)
  return Found(candidates.presence[hypothesis] > 0,
               candidates.identities[hypothesis],
               poses[chain, images, hypothesis],
               flat[images, winner], seconds)


def adam_search(model: TabletopAIR, images: np.ndarray, z_pres_prob: float,
                checkpoints: Sequence[int], restarts: int = 2,
                learning_rate: float = 0.03, seed: int = 0,
                jit_compile: bool = True) -> list[Found]:
  """Adam on every hypothesis's poses from `restarts` random starts.

  Args:
    model: its prior and renderer define log p(x, z).
    images: `[B, H, W, 3]` float32 in [0, 1].
    z_pres_prob: the count prior's probability of one more object.
    checkpoints: increasing step counts at which to report the best.
    restarts: random starts per image and hypothesis.
    learning_rate: Adam's step size.
    seed: of the starts.
    jit_compile: compile the search with XLA (TensorFlow's own kernels
      compile faster, for short searches).

  Returns:
    One `Found` per checkpoint (times leave out tracing and compiling).
  """
  candidates = hypotheses(model.config.max_steps)
  log_joint = log_joint_fn(model, images, candidates, z_pres_prob)
  starts = pose_fitting.random_poses(
      (restarts, len(images), len(candidates.presence),
       model.config.max_steps), seed)
  poses = tf.Variable(starts)
  optimizer = snt.optimizers.Adam(learning_rate)
  training.make_slots(optimizer, [poses])

  @tf.function(jit_compile=jit_compile, autograph=False)
  def step():
    with tf.GradientTape() as tape:
      loss = -tf.reduce_sum(log_joint(poses))
    optimizer.apply([tape.gradient(loss, poses)], [poses])

  evaluate = tf.function(log_joint, jit_compile=jit_compile,
                         autograph=False)
  # Compiled by one step, which is then undone.
  step()
  evaluate(poses)
  poses.assign(starts)
  for variable in (optimizer.step, *optimizer.m, *optimizer.v):
    variable.assign(tf.zeros_like(variable))
  found, done, start = [], 0, time.time()
  for checkpoint in checkpoints:
    for _ in range(checkpoint - done):
      step()
    done = checkpoint
    found.append(_best(candidates, poses.numpy(), evaluate(poses).numpy(),
                       time.time() - start))
  return found


def metropolis_search(model: TabletopAIR, images: np.ndarray,
                      z_pres_prob: float, checkpoints: Sequence[int],
                      chains: int = 2,
                      step_scale: tuple[float, float, float] = (0.03, 0.03,
                                                                0.2),
                      seed: int = 0, jit_compile: bool = True) -> list[Found]:
  """Random-walk Metropolis on every hypothesis's poses, `chains` chains
  from random starts, keeping the best state each chain has visited.

  Args:
    model, images, z_pres_prob, checkpoints, seed, jit_compile: as
      `adam_search` (checkpoints count Metropolis steps).
    chains: chains per image and hypothesis.
    step_scale: standard deviation of the proposal of (x, y, rotation).

  Returns:
    One `Found` per checkpoint (times leave out tracing and compiling).
  """
  candidates = hypotheses(model.config.max_steps)
  log_joint = log_joint_fn(model, images, candidates, z_pres_prob)
  kernel = tfp.mcmc.RandomWalkMetropolis(
      log_joint, new_state_fn=tfp.mcmc.random_walk_normal_fn(
          scale=tf.constant(step_scale, tf.float32)))
  state = tf.constant(pose_fitting.random_poses(
      (chains, len(images), len(candidates.presence),
       model.config.max_steps), seed))
  results = kernel.bootstrap_results(state)
  best_state, best = state, results.accepted_results.target_log_prob

  @tf.function(jit_compile=jit_compile, autograph=False)
  def run(state, results, best_state, best, count, seed):
    def body(k, state, results, best_state, best):
      state, results = kernel.one_step(
          state, results, seed=tf.random.experimental.stateless_fold_in(
              seed, k))
      value = results.accepted_results.target_log_prob
      better = value > best
      best_state = tf.where(better[..., tf.newaxis, tf.newaxis], state,
                            best_state)
      return k + 1, state, results, best_state, tf.maximum(value, best)
    _, state, results, best_state, best = tf.while_loop(
        lambda k, *unused: k < count, body,
        (tf.constant(0), state, results, best_state, best))
    return state, results, best_state, best

  run(state, results, best_state, best, tf.constant(1),
      tf.constant([seed, -1]))  # Compiles; its step is discarded.
  found, done, start = [], 0, time.time()
  for index, checkpoint in enumerate(checkpoints):
    state, results, best_state, best = run(
        state, results, best_state, best, tf.constant(checkpoint - done),
        tf.constant([seed, index]))
    done = checkpoint
    found.append(_best(candidates, best_state.numpy(), best.numpy(),
                       time.time() - start))
  return found
