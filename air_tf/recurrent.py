"""An LSTM that reads the same image at every step without re-reading it."""

import sonnet as snt
import tensorflow as tf


class ContextLSTM(snt.LSTM):
  """`snt.LSTM` on `[context, x_t]`, where the context is fixed over steps.

  Calling it as an `snt.LSTM` on `tf.concat([context, x_t], axis=1)` and
  calling `step(project_context(context, ...), x_t, state)` compute the same
  function with the same variables. The second form multiplies the context
  by its share of the input weights once per sequence instead of once per
  step: when the context is a raw 50x50 image (as in Pyro's AIR) that
  product is most of the work of a step, forwards and backwards
  (docs/RESULTS.md, throughput).
  """

  def project_context(self, context: tf.Tensor,
                      step_input_size: int) -> tf.Tensor:
    """The context's contribution to the gates, `[B, 4 * hidden_size]`.

    Args:
      context: `[B, C]` input that every step shares.
      step_input_size: size of the inputs `step` will be given; together
        with C it fixes the input weights' shape when they are created.
    """
    context_size = context.shape[1]
    self._initialize(tf.zeros([1, context_size + step_input_size],
                              context.dtype))
    return tf.matmul(context, self._w_i[:context_size])

  def step(self, projected_context: tf.Tensor, inputs: tf.Tensor,
           prev_state: snt.LSTMState) -> tuple[tf.Tensor, snt.LSTMState]:
    """One step on `[B, step_input_size]` inputs; returns (output, state)."""
    step_weights = self._w_i[self._w_i.shape[0] - inputs.shape[1]:]
    gates = (projected_context + tf.matmul(inputs, step_weights) +
             tf.matmul(prev_state.hidden, self._w_h) + self.b)
    # Sonnet's gate order: input, forget, cell update, output.
    i, f, g, o = tf.split(gates, num_or_size_splits=4, axis=1)
    cell = tf.sigmoid(f) * prev_state.cell + tf.sigmoid(i) * tf.tanh(g)
    hidden = tf.sigmoid(o) * tf.tanh(cell)
    return hidden, snt.LSTMState(hidden=hidden, cell=cell)
