"""Adam whose bias correction counts each element's own steps.

Adam's moment estimates start at zero and are divided by 1 - beta^t to
undo that start. Sonnet's Adam counts t from the optimiser's first step,
for every parameter alike. A parameter whose gradient is zero for the
first T steps (q(z_pres)'s own weights during a presence warm-up) starts
its estimates at step T, but is corrected as if they had been averaging
since step 0: after a 500-step warm-up its second moment is underestimated
and its first few hundred steps are 2-4 times the size Adam gives a
parameter on its first steps (tests/test_adam.py).
"""

from typing import Optional, Sequence

import sonnet as snt
import tensorflow as tf
from sonnet.src.optimizers import adam as sonnet_adam
from sonnet.src import utils as sonnet_utils
from sonnet.src.optimizers import optimizer_utils


class ElementwiseStepAdam(snt.optimizers.Adam):
  """Sonnet's Adam, with each element's t counted from its first nonzero
  gradient.

  An element that has had a nonzero gradient steps exactly as under
  Sonnet's Adam started at that gradient's step; one that never has stays
  where it is. Elements whose gradient is nonzero at the first step step
  as under Sonnet's Adam.

  Attributes:
    steps: per parameter, each element's step count (float, of the
      parameter's shape): 0 until its first nonzero gradient.
  """

  def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999,
               epsilon=1e-8, name: Optional[str] = None):
    """Constructs it; arguments as Sonnet's `Adam`."""
    super().__init__(learning_rate, beta1, beta2, epsilon, name=name)
    self.steps = []

  def _initialize(self, parameters: Sequence[tf.Variable]):
    """Makes the moments' slots and the step counts', all zero."""
    super()._initialize(parameters)
    if not self.steps:
      with tf.name_scope("steps"):
        self.steps.extend(sonnet_utils.variable_like(p, trainable=False)
                          for p in parameters)

  def apply(self, updates: Sequence[tf.Tensor],
            parameters: Sequence[tf.Variable]):
    """Applies Adam's update, as Sonnet's `Adam.apply` (dense updates)."""
    optimizer_utils.check_distribution_strategy()
    optimizer_utils.check_updates_parameters(updates, parameters)
    self._initialize(parameters)
    self.step.assign_add(1)
    for update, parameter, m, v, steps in zip(updates, parameters, self.m,
                                              self.v, self.steps):
      if update is None:
        continue
      if isinstance(update, tf.IndexedSlices):
        raise TypeError(f"{type(self).__name__} takes dense updates; "
                        f"{parameter.name}'s is an IndexedSlices.")
      optimizer_utils.check_same_dtype(update, parameter)
      dtype = update.dtype
      started = tf.logical_or(steps > 0, tf.not_equal(update, 0))
      new_steps = tf.where(started, steps + 1, steps)
      # An element not started has m = v = 0 and a zero gradient, so its
      # delta is 0 whatever t is; t >= 1 keeps 1 - beta^t nonzero.
      delta, new_m, new_v = sonnet_adam.adam_update(
          g=update, alpha=tf.cast(self.learning_rate, dtype),
          beta_1=tf.cast(self.beta1, dtype), beta_2=tf.cast(self.beta2, dtype),
          epsilon=tf.cast(self.epsilon, dtype), t=tf.maximum(new_steps, 1.0),
          m=m, v=v)
      parameter.assign_sub(delta)
      m.assign(new_m)
      v.assign(new_v)
      steps.assign(new_steps)
