"""One training step of AIR, its optimisers, schedule and checkpoint."""

import contextlib
import dataclasses
import math
from typing import Optional, Sequence

import sonnet as snt
import tensorflow as tf

from air_tf import estimator, sleep
from air_tf.config import JsonConfig
from air_tf.inference import BatchPart
from air_tf.model import AIR


OBJECTIVES = ("elbo", "vimco", "enumerate", "rws", "relaxed")


@dataclasses.dataclass(frozen=True)
class TrainConfig(JsonConfig):
  """How AIR is optimised.

  Attributes:
    batch_size: distinct images per step (each inferred
      `samples_per_image` times). 32 rather than 16, at twice a step's
      cost, by a rule written down before its runs: on the seed table's
      scenes ten seeds a path counted better on average (XLA 98.71 →
      98.89%, no XLA 98.67 → 98.89%), every run >= 98%, every size band
      and Pyro's layout higher, 98% first watched 3-4.5 minutes after
      the start on 2 cores (docs/RESULTS.md, issue 13).
    learning_rate: Adam's step size for the model and inference network.
      3e-4 rather than the reproductions' 1e-4: DAIR on digits of 14-28 px
      passed 96% at 2,000 steps instead of 4,000 (docs/RESULTS.md, issue
      13).
    learning_rate_end: decay `learning_rate` to this value, log-linearly,
      from step `learning_rate_decay_start` over
      `learning_rate_decay_steps`; None: a constant step size. 3e-5 over
      the second half of the default 20,000 steps (of 10,000, when they
      were the default): at a constant 3e-4 the held-out accuracy of a
      run swings by points between evaluations late in training, and
      some runs ended on a bad step; with the decay the end is steady,
      small digits are found more often and large ones split a little
      more, the mean within the seeds' spread (five seeds on scenes not
      used to choose it, docs/RESULTS.md, issue 13). Runs longer than
      20,000 steps go on at 3e-5.
    learning_rate_decay_start: the step the decay starts at.
    learning_rate_decay_steps: steps the decay takes (0: at once).
    baseline_learning_rate: Adam's step size for the NVIL baseline. It must
      learn outputs of hundreds of nats quickly: at 1e-3 its error stayed
      ~300 nats for thousands of steps (docs/RESULTS.md).
    z_pres_prior: prior probability of one more object (at step 0, when
      annealed).
      1e-5 (11.5 nats per object) rather than the reproductions' 0.01
      (4.6): early on, while decoded objects are dim, stacking two or three
      on one digit otherwise scores higher, and the counts lock in there
      (docs/RESULTS.md, runs H-J).
    z_pres_prior_end: anneal the prior to this value by
      `z_pres_prior_anneal_steps`, log-linearly; None: no annealing.
    z_pres_prior_anneal_steps: steps over which the prior is annealed (0:
      `z_pres_prior_end` from the first step).
    normalize_signal: divide the centred learning signal by its running std
      (see `estimator.SignalNormalizer`: it unbalances the gradient).
    samples_per_image: K. With K > 1 each image is inferred K times and each
      sample's learning signal is centred by the mean of the other K - 1
      (`estimator.leave_one_out_means`) instead of a running mean; a step
      then costs K times as much. 4 x 16 images costs what 64 images did
      and cuts the signal's variance ~100-fold (docs/RESULTS.md, run I).
    objective: "elbo": the single-sample ELBO, per-step REINFORCE
      signals centred by the other samples and the NVIL baseline;
      "vimco": the K-sample importance-weighted bound with VIMCO's
      leave-one-out signals (`estimator.vimco_losses`; needs K >= 2; the
      baseline network is not used; on the default scenes two seeds
      counted 96.34 and 95.83% where the ELBO's count 97.48 and 97.83%,
      docs/RESULTS.md, issue 13); "enumerate": the ELBO with the
      number of objects summed out (`model.enumerate_counts`), whose
      gradient with respect to q(z_pres) is exact: no REINFORCE, no
      baseline, every step's window learns in every image, weighted by
      q(n > i); "rws": reweighted wake-sleep's wake phase
      (`estimator.reweighted_wake_losses`; needs K >= 2, no baseline):
      the inference network learns KL(p || q), which covers every object
      some draw found, instead of the ELBO's KL(q || p); "relaxed": the
      ELBO with z_pres drawn from its binary Concrete at
      `relaxed_temperature` (`AIR.relaxed`; no REINFORCE, no baseline):
      every step's object is drawn weighed by its relaxed presence, so its
      window learns in every image where q gives it some weight.
    relaxed_temperature: the binary Concrete's temperature for the
      "relaxed" objective: lower is closer to 0/1 draws, with gradients of
      higher variance.
    sleep_weight: weight of the sleep phase's loss (`air_tf.sleep`):
      -log q of the count and positions of dreams, scenes the model renders
      from objects q found in the batch, added to the ELBO's loss of the
      inference network. 0: no sleep phase. Only with the "elbo" objective
      and the 2D AIR. Off by default: at 10, five seeds counted 0.3 points
      above the default's on the scenes the weight was chosen on and as
      the default's on untouched ones (docs/RESULTS.md, issue 13).
    sleep_start_step: the step the sleep phase starts at: before, the
      decoder draws no digits yet, and dreams of empty windows would teach
      q to count objects where there is no ink.
    presence_warmup_steps: for this many first steps q(z_pres) does not
      learn (its logits pass no gradient: neither REINFORCE's nor its
      KL's), so that the objects' poses and identities are learnt before
      presence judges whether they pay. The table-top renderer draws a
      fresh network's guesses in full, and they cost more than they
      explain: without a warm-up q(z_pres) turned every step off within
      300 steps (docs/RESULTS.md, issue 16). None: the model's own
      (`PRESENCE_WARMUP_STEPS`: none for 2D AIR, whose decoder starts
      empty).
    seed: seeds every random draw of training (with the step number).
    jit_compile: compile the step with XLA: 1.2-1.8x the steps/s of the
      default configuration on 2 CPU cores, twice the tracing time
      (docs/RESULTS.md, throughput); a fifth of them with the
      convolutional reader (`AIRConfig.image_encoder_channels`). It
      rounds differently from TensorFlow's own kernels, so it is part of
      what a resumed run must repeat to continue exactly.
    num_train_images: training scenes drawn from the generator.
    num_eval_images: held-out scenes evaluated during training.
  """
  batch_size: int = 32
  learning_rate: float = 3e-4
  learning_rate_end: Optional[float] = 3e-5
  learning_rate_decay_start: int = 10000
  learning_rate_decay_steps: int = 10000
  baseline_learning_rate: float = 1e-2
  z_pres_prior: float = 1e-5
  z_pres_prior_end: Optional[float] = None
  z_pres_prior_anneal_steps: int = 0
  normalize_signal: bool = False
  samples_per_image: int = 4
  objective: str = "elbo"
  relaxed_temperature: float = 0.5
  sleep_weight: float = 0.0
  sleep_start_step: int = 1000
  presence_warmup_steps: Optional[int] = None
  seed: int = 0
  jit_compile: bool = True
  num_train_images: int = 60000
  num_eval_images: int = 1000

  def __post_init__(self):
    for name in ("z_pres_prior", "z_pres_prior_end"):
      if getattr(self, name) is not None and not 0 < getattr(self, name) < 1:
        raise ValueError(f"{name} must be in (0, 1), got "
                         f"{getattr(self, name)}.")
    if self.samples_per_image < 1:
      raise ValueError(f"samples_per_image must be >= 1, got "
                       f"{self.samples_per_image}.")
    if self.objective not in OBJECTIVES:
      raise ValueError(f"objective must be one of {OBJECTIVES}, got "
                       f"{self.objective!r}.")
    if self.objective in ("vimco", "rws") and self.samples_per_image < 2:
      raise ValueError(f"The {self.objective} objective needs "
                       f"samples_per_image >= 2, got "
                       f"{self.samples_per_image}.")
    if self.sleep_weight < 0:
      raise ValueError(f"sleep_weight must be >= 0, got "
                       f"{self.sleep_weight}.")
    if self.sleep_weight and self.objective != "elbo":
      raise ValueError(f"The sleep phase (sleep_weight > 0) is built for "
                       f"the 'elbo' objective, got {self.objective!r}.")
    if self.relaxed_temperature <= 0:
      raise ValueError(f"relaxed_temperature must be > 0, got "
                       f"{self.relaxed_temperature}.")
    if self.batch_size < 1:
      raise ValueError(f"batch_size must be >= 1, got {self.batch_size}.")
    for name in ("learning_rate", "baseline_learning_rate",
                 "learning_rate_end"):
      if getattr(self, name) is not None and getattr(self, name) <= 0:
        raise ValueError(f"{name} must be > 0, got {getattr(self, name)}.")
    for name in ("num_train_images", "num_eval_images"):
      if getattr(self, name) < 1:
        raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}.")
    if self.seed < 0:
      raise ValueError(f"seed must be >= 0, got {self.seed}.")
    for name in ("z_pres_prior_anneal_steps", "learning_rate_decay_start",
                 "learning_rate_decay_steps", "presence_warmup_steps",
                 "sleep_start_step"):
      if getattr(self, name) is not None and getattr(self, name) < 0:
        raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}.")


def log_linear(step: tf.Tensor, start: float, end: Optional[float],
               first_step: int, num_steps: int) -> tf.Tensor:
  """`start` until `first_step`, then log-linearly to `end` over
  `num_steps` steps (at once if 0), then `end`; `start` if `end` is None."""
  if end is None:
    return tf.constant(start, tf.float32)
  progress = (tf.cast(step, tf.float32) - first_step) / max(num_steps, 1)
  progress = tf.clip_by_value(progress, 0.0, 1.0)
  return tf.exp(math.log(start) + (math.log(end) - math.log(start)) *
                progress)


def z_pres_prior_prob(step: tf.Tensor, config: TrainConfig) -> tf.Tensor:
  """The scheduled prior probability of one more object at `step`."""
  return log_linear(step, config.z_pres_prior, config.z_pres_prior_end, 0,
                    config.z_pres_prior_anneal_steps)


def learning_rate(step: tf.Tensor, config: TrainConfig) -> tf.Tensor:
  """The scheduled step size of the model's optimiser at `step`."""
  return log_linear(step, config.learning_rate, config.learning_rate_end,
                    config.learning_rate_decay_start,
                    config.learning_rate_decay_steps)


def make_slots(optimizer: snt.optimizers.Adam,
               variables: Sequence[tf.Variable]) -> None:
  """Makes Sonnet Adam's moment slots for `variables` now: made by its
  first update inside a traced step instead, they would make TensorFlow
  trace that step twice."""
  optimizer._initialize(variables)  # pylint: disable=protected-access


class Trainer(tf.Module):
  """Owns the optimisers and the step counter, and trains an `AIR`.

  Every random draw of step t is seeded by (seed, t), so a run resumed from
  a checkpoint at step t continues exactly as the uninterrupted run would.
  Under a distribution strategy each replica computes the gradients of its
  part of the batch, drawing what that part would draw in the whole batch,
  and the variables are updated once per step with the replicas' mean; a
  checkpoint holds one copy of each, whatever the strategy.
  """

  def __init__(self, model: AIR, config: TrainConfig,
               strategy: Optional[tf.distribute.Strategy] = None):
    """Constructs a `Trainer` of `model`, trained as `config` says.

    Args:
      model: the model to train.
      config: how.
      strategy: the replicas that share each step's batch
        (`air_tf.distribution`); None: this process, on its default
        device.
    """
    super().__init__(name="trainer")
    # The method of the model each objective beyond the ELBO calls.
    method = {"enumerate": "enumerate_counts", "rws": "wake",
              "relaxed": "relaxed"}.get(config.objective)
    if method and not hasattr(model, method):
      raise ValueError(
          f"The {config.objective} objective is built for the 2D AIR; "
          f"{type(model).__name__} draws discrete identities too: train it "
          f"with objective 'elbo'.")
    if config.sleep_weight and not isinstance(model, AIR):
      raise ValueError(
          f"The sleep phase is built for the 2D AIR, not "
          f"{type(model).__name__}: train it with sleep_weight=0.")
    if config.jit_compile and not model.xla_compilable:
      raise ValueError(
          "The model renders outside TensorFlow's graph (MuJoCo), which XLA "
          "cannot compile: train it with jit_compile=False "
          "(--nojit_compile).")
    self.model = model
    self.config = config
    self.strategy = strategy
    self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    # Updates skipped because the loss or a gradient was NaN or infinite.
    self.skipped_updates = tf.Variable(0, dtype=tf.int64, trainable=False,
                                       name="skipped_updates")
    self.nonfinite_in_a_row = tf.Variable(0, dtype=tf.int64,
                                          trainable=False,
                                          name="nonfinite_in_a_row")
    # Under a strategy, every variable the replicas read is mirrored: XLA
    # reads a variable only on its own device. Adam's slots, made by the
    # first update outside the strategy's scope, are not, and Sonnet's
    # optimisers (which refuse to run under a MirroredStrategy) update the
    # mirrored variables from there, every copy alike.
    with strategy.scope() if strategy else contextlib.nullcontext():
      # Eagerly: see `AIR.build`.
      model.build(baseline=config.objective == "elbo")
      self.optimizer = snt.optimizers.Adam(config.learning_rate)
      # The step size is a function of the step, not state to checkpoint:
      # set untracked, so that the checkpoint is the same with or without
      # a schedule (and runs from before schedules existed resume).
      self._learning_rate = tf.Variable(config.learning_rate,
                                        trainable=False,
                                        name="learning_rate")
      object.__setattr__(self.optimizer, "learning_rate",
                         self._learning_rate)
      self.baseline_optimizer = snt.optimizers.Adam(
          config.baseline_learning_rate)
      self.normalizer = estimator.SignalNormalizer(
          model.config.max_steps, scale=config.normalize_signal)
    make_slots(self.optimizer, model.model_variables)
    if config.objective == "elbo":
      make_slots(self.baseline_optimizer, model.baseline.trainable_variables)
    self._presence_warmup_steps = (
        model.PRESENCE_WARMUP_STEPS if config.presence_warmup_steps is None
        else config.presence_warmup_steps)
    # No AutoGraph (here and in air_tf's other functions): the model's
    # loops and branches are TensorFlow's own, and converting the ~800
    # functions of TensorFlow, TFP and Sonnet it calls took about half of
    # the time to trace a training step.
    self._compiled_gradients = tf.function(
        self._gradients, jit_compile=config.jit_compile, autograph=False)
    # With replicas the mean over them and the update run outside XLA,
    # which has no collectives on the CPU; alone, the whole step compiles.
    self._compiled_step = tf.function(
        self._update, jit_compile=config.jit_compile and strategy is None,
        autograph=False)
    self._checkpoint = tf.train.Checkpoint(
        model=self.model, optimizer=self.optimizer,
        baseline_optimizer=self.baseline_optimizer,
        normalizer=self.normalizer, step=self.step,
        skipped_updates=self.skipped_updates)
    self._pending_restore = None

  def checkpoint(self) -> tf.train.Checkpoint:
    """Everything a resumed run needs."""
    return self._checkpoint

  def restore(self, path: str) -> None:
    """Restores a checkpoint written by `checkpoint()`.

    Variables and optimiser slots are created by the first training step
    and take their saved values then; that step also checks that every
    saved value found its variable.
    """
    self._pending_restore = self._checkpoint.restore(path)

  def train_step(self, images) -> dict[str, tf.Tensor]:
    """One update of the model and the baseline on a batch of images.

    An update whose loss or gradients are not finite is skipped (the step
    still counts): `skipped_updates` and `nonfinite_in_a_row` count them.

    Args:
      images: `[B, H, W]` float32, or with a strategy, each replica's
        `[B / replicas, H, W]` part of the batch in order
        (`distribution.split_batch`).

    Returns:
      Scalars to log: batch means of the ELBO and its terms, the baseline
      loss, the learning signal's mean and variance, and the prior value
      (with replicas: means of the replicas' values).
    """
    logs = self._compiled_step(images)
    if self._pending_restore is not None:
      self._pending_restore.assert_consumed()
      self._pending_restore = None
    return logs

  def _update(self, images) -> dict[str, tf.Tensor]:
    """The traced body of `train_step`."""
    prior_prob = z_pres_prior_prob(self.step, self.config)
    seed = tf.stack([tf.constant(self.config.seed, tf.int32),
                     tf.cast(self.step, tf.int32)])
    learn_presence = (self.step >= self._presence_warmup_steps
                      if self._presence_warmup_steps else None)
    sleep_weight = tf.where(self.step >= self.config.sleep_start_step,
                            self.config.sleep_weight, 0.0)
    if self.strategy is None:
      parts = self._gradients(images, prior_prob, seed, learn_presence,
                              sleep_weight, 0, 1)
    else:
      def replica_gradients(part):
        context = tf.distribute.get_replica_context()
        return self._compiled_gradients(
            part, prior_prob, seed, learn_presence, sleep_weight,
            context.replica_id_in_sync_group, context.num_replicas_in_sync)

      def reduce(name, value):
        # Statistics are sums over the batch, the rest means.
        operation = (tf.distribute.ReduceOp.SUM if name == "signal_statistics"
                     else tf.distribute.ReduceOp.MEAN)
        return tf.nest.map_structure(
            lambda each: self.strategy.reduce(operation, each, axis=None),
            value)

      parts = {name: reduce(name, value) for name, value in
               self.strategy.run(replica_gradients, (images,)).items()}
    model_gradients = parts["model_gradients"]
    baseline_gradients = parts["baseline_gradients"]
    finite = tf.reduce_all([
        tf.reduce_all(tf.math.is_finite(value)) for value in
        [*parts["logs"].values(), parts["signal_statistics"],
         *model_gradients, *baseline_gradients]])
    # A non-finite update would spoil every parameter for good: skip it,
    # count it, and let the caller decide when too many in a row is fatal.
    def apply_update():
      self._learning_rate.assign(learning_rate(self.step, self.config))
      self.optimizer.apply(model_gradients, self.model.model_variables)
      if self.config.objective == "elbo":
        self.baseline_optimizer.apply(
            baseline_gradients, self.model.baseline.trainable_variables)
        self.normalizer.update(parts["signal_statistics"])
      self.nonfinite_in_a_row.assign(0)

    def skip_update():
      self.skipped_updates.assign_add(1)
      self.nonfinite_in_a_row.assign_add(1)

    tf.cond(finite, apply_update, skip_update)
    self.step.assign_add(1)
    return {**parts["logs"], "z_pres_prior": prior_prob,
            "learning_rate": self._learning_rate,
            "skipped_updates": self.skipped_updates}

  def _gradients(self, images: tf.Tensor, prior_prob: tf.Tensor,
                 seed: tf.Tensor, learn_presence: Optional[tf.Tensor],
                 sleep_weight: tf.Tensor, replica: tf.Tensor,
                 num_replicas: int) -> dict:
    """Gradients and statistics of one replica's part of the batch.

    Args:
      images: `[B, H, W]`, replica `replica`'s part of a batch of
        `num_replicas` equal parts.
      prior_prob: the step's prior probability of one more object.
      seed: `[2]` the stateless seed of the whole batch's draws.
      learn_presence: scalar bool, whether q(z_pres) learns this step
        (None: it does).
      sleep_weight: scalar, the sleep phase's weight this step.
      replica, num_replicas: which part.

    Returns:
      "model_gradients" and "baseline_gradients" of the part's mean
      losses, "signal_statistics" (`SignalNormalizer.statistics`, sums) and
      "logs" (the part's means).
    """
    model = self.model
    samples = self.config.samples_per_image
    images = tf.repeat(images, samples, axis=0)
    part_size = tf.shape(images)[0]
    batch_part = BatchPart(replica * part_size, num_replicas * part_size)
    objective = self.config.objective
    with tf.GradientTape(persistent=True) as tape:
      if objective == "enumerate":
        output = model.enumerate_counts(images, prior_prob, seed, batch_part,
                                        learn_presence)
        losses = estimator.pathwise_losses(output.elbo)
        logs = _enumeration_logs(output)
        signals = sampled = tf.zeros_like(output.posterior.z_pres)
      elif objective == "relaxed":
        output = model.relaxed(images, prior_prob, seed,
                               self.config.relaxed_temperature, batch_part,
                               learn_presence)
        losses = estimator.pathwise_losses(output.elbo)
        logs = _sampled_logs(output)
        signals = sampled = tf.zeros_like(output.sampled)
      elif objective == "rws":
        output = model.wake(images, prior_prob, seed, batch_part,
                            learn_presence)
        losses = estimator.reweighted_wake_losses(
            output.log_weight + output.log_q, output.log_q, samples)
        logs = _sampled_logs(output)
        signals = sampled = tf.zeros_like(output.sampled)
      else:
        output = model(images, prior_prob, seed=seed, batch_part=batch_part,
                       learn_presence=learn_presence)
        posterior, sampled = output.posterior, output.sampled
        if objective == "vimco":
          losses = estimator.vimco_losses(output.log_weight,
                                          output.log_q_discrete, samples)
          signals = tf.zeros_like(sampled)
        else:
          signals = estimator.learning_signals(
              output.log_likelihood, output.kl_where, output.kl_what,
              output.kl_pres, output.contact)
          centre = (estimator.leave_one_out_means(signals, samples)
                    if samples > 1 else self.normalizer.mean)
          baseline = model.baseline(images, posterior.z_pres,
                                    posterior.z_where, posterior.z_what)
          losses = estimator.surrogate_losses(
              output.elbo, output.log_q_discrete, sampled, signals, centre,
              baseline, self.normalizer)
        logs = _sampled_logs(output)
        if self.config.sleep_weight:
          sleep_loss = self._sleep_loss(posterior, tf.shape(images)[0] //
                                        samples, seed, replica)
          losses = losses._replace(
              model_loss=losses.model_loss + sleep_weight * sleep_loss)
          logs["sleep_loss"] = sleep_loss
    baseline_variables = (model.baseline.trainable_variables
                          if objective == "elbo" else ())
    model_gradients = tape.gradient(losses.model_loss, model.model_variables)
    baseline_gradients = tape.gradient(losses.baseline_loss,
                                       baseline_variables)
    del tape
    return {
        "model_gradients": model_gradients,
        "baseline_gradients": baseline_gradients,
        "signal_statistics": self.normalizer.statistics(
            tf.stop_gradient(signals), losses.residual, sampled),
        "logs": {
            **logs,
            "model_loss": losses.model_loss,
            "baseline_loss": losses.baseline_loss,
            "signal_mean": losses.signal_mean,
            "signal_variance": losses.signal_variance,
        },
    }

  def _sleep_loss(self, posterior, num_dreams: tf.Tensor, seed: tf.Tensor,
                  replica: tf.Tensor) -> tf.Tensor:
    """The sleep phase's loss (`air_tf.sleep`): the mean over `num_dreams`
    dreams recombined from `posterior`'s objects of -log q of their count
    and positions. Each replica dreams from its own part of the batch."""
    # The wake pass draws step i with `seed` folded with i < N.
    dream_seed = tf.random.experimental.stateless_fold_in(
        tf.random.experimental.stateless_fold_in(
            seed, self.model.config.max_steps), replica)
    dreams = sleep.recombine(posterior, self.model.renderer, num_dreams,
                             dream_seed)
    return -tf.reduce_mean(sleep.set_log_q(self.model.inference, dreams))


def _q_pres_logs(z_pres_logits: tf.Tensor,
                 asked: tf.Tensor) -> dict[str, tf.Tensor]:
  """How sure each step is that there is one more object, where it was
  asked (`[B, N]` weights): a step whose q(z_pres) sinks to ~0 stops being
  sampled, and REINFORCE can no longer learn that it should have fired."""
  q_pres = (tf.reduce_sum(tf.sigmoid(z_pres_logits) * asked, axis=0) /
            tf.maximum(tf.reduce_sum(asked, axis=0), 1e-6))
  return {f"q_pres_step_{i}": q_pres[i] for i in range(q_pres.shape[0])}


def _sampled_logs(output) -> dict[str, tf.Tensor]:
  """Batch means of a sampled pass's ELBO and its terms (an `AIROutput`)."""
  batch_mean_of_sum = lambda x: tf.reduce_mean(tf.reduce_sum(x, axis=1))
  return {
      **_q_pres_logs(output.posterior.z_pres_logits, output.sampled),
      "elbo": tf.reduce_mean(output.elbo),
      "log_likelihood": tf.reduce_mean(output.log_likelihood),
      "kl_where": batch_mean_of_sum(output.kl_where),
      "kl_what": batch_mean_of_sum(output.kl_what),
      "kl_pres": batch_mean_of_sum(output.kl_pres),
      "contact": batch_mean_of_sum(output.contact),
      "mean_count": tf.reduce_mean(tf.cast(output.count, tf.float32)),
  }


def _enumeration_logs(output) -> dict[str, tf.Tensor]:
  """The same batch means of a `CountEnumeration`: expectations over the
  count (the count's KL in place of the steps' z_pres KLs, its sum)."""
  probs = output.count_probs
  reached = tf.cumsum(probs, axis=1, reverse=True)[:, :-1]  # q(n >= i).
  counts = tf.range(probs.shape[1], dtype=tf.float32)
  return {
      **_q_pres_logs(output.posterior.z_pres_logits, reached),
      "elbo": tf.reduce_mean(output.elbo),
      "log_likelihood": tf.reduce_mean(output.log_likelihood),
      "kl_where": tf.reduce_mean(output.kl_where),
      "kl_what": tf.reduce_mean(output.kl_what),
      "kl_pres": tf.reduce_mean(output.kl_count),
      "contact": tf.reduce_mean(output.contact),
      "mean_count": tf.reduce_mean(tf.reduce_sum(probs * counts, axis=1)),
  }
