import numpy as np
import sonnet as snt
import tensorflow as tf

from air_tf.recurrent import ContextLSTM


def test_steps_match_the_lstm_on_the_concatenated_input():
  lstm = ContextLSTM(6)
  context = tf.random.stateless_normal([4, 5], [0, 1])
  inputs = tf.random.stateless_normal([3, 4, 2], [0, 2])
  projected = lstm.project_context(context, step_input_size=2)
  assert lstm.input_to_hidden.shape == (7, 24)
  state_a = state_b = lstm.initial_state(4)
  for x in inputs:
    out_a, state_a = lstm.step(projected, x, state_a)
    # The same module called as a plain snt.LSTM on [context, x].
    out_b, state_b = lstm(tf.concat([context, x], axis=1), state_b)
    np.testing.assert_allclose(out_a, out_b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(state_a.cell, state_b.cell, rtol=1e-5,
                               atol=1e-6)


def test_gradients_match_the_lstm_on_the_concatenated_input():
  lstm = ContextLSTM(3)
  context = tf.random.stateless_normal([2, 4], [1, 1])
  inputs = tf.random.stateless_normal([3, 2, 2], [1, 2])

  def loss(stepwise):
    state = lstm.initial_state(2)
    projected = lstm.project_context(context, 2)
    total = 0.0
    for x in inputs:
      if stepwise:
        out, state = lstm.step(projected, x, state)
      else:
        out, state = lstm(tf.concat([context, x], axis=1), state)
      total += tf.reduce_sum(out ** 2)
    return total

  gradients = []
  for stepwise in (True, False):
    with tf.GradientTape() as tape:
      value = loss(stepwise)
    gradients.append(tape.gradient(value, lstm.trainable_variables))
  for a, b in zip(*gradients):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_checkpoints_of_a_plain_lstm_load(tmp_path):
  plain, context_lstm = snt.LSTM(3, name="lstm"), ContextLSTM(3, name="lstm")
  plain(tf.zeros([1, 5]), plain.initial_state(1))
  context_lstm.project_context(tf.zeros([1, 3]), 2)
  saved = tf.train.Checkpoint(lstm=plain).write(str(tmp_path / "ckpt"))
  tf.train.Checkpoint(lstm=context_lstm).read(saved).assert_consumed()
  for a, b in zip(plain.variables, context_lstm.variables):
    np.testing.assert_array_equal(a, b)
