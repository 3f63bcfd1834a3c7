"""A count classifier taught the scenes' counts: how well the number of
objects can be read from these pictures at all, the yardstick for AIR's
unsupervised count.

AIR is never told how many objects a scene holds. Where it miscounts a
scene that a network taught the counts reads right, AIR's learning is at
fault; where both miscount, the scene itself is hard to read (two digits
whose inks nearly touch look like one). A classifier's accuracy is a lower
bound on what can be counted (a better reader may exist), so it tells
whether a target such as 99% is within reach, not that it is out of it.
"""

import dataclasses

import numpy as np
import sonnet as snt
import tensorflow as tf

from air_tf import config


@dataclasses.dataclass(frozen=True)
class CountClassifierConfig(config.JsonConfig):
  """Architecture of the classifier.

  Attributes:
    max_count: the largest count it can answer.
    channels: output channels of each 3x3 convolution (stride 2, ReLU).
    hidden_size: units of the ReLU layer between the convolutions and the
      count's logits.
  """
  max_count: int = 2
  channels: tuple[int, ...] = (32, 64, 64)
  hidden_size: int = 256

  def __post_init__(self):
    if self.max_count < 1:
      raise ValueError(f"max_count must be >= 1, got {self.max_count}.")
    if not self.channels or min(self.channels) < 1:
      raise ValueError(f"channels must be positive numbers, got "
                       f"{self.channels}.")
    if self.hidden_size < 1:
      raise ValueError(f"hidden_size must be >= 1, got {self.hidden_size}.")


class CountClassifier(snt.Module):
  """Convolutions, a hidden layer and a softmax over 0..max_count objects."""

  def __init__(self, classifier_config: CountClassifierConfig):
    """Constructs the network.

    Args:
      classifier_config: its architecture.
    """
    super().__init__(name="count_classifier")
    self.config = classifier_config
    self._convolutions = [
        snt.Conv2D(channels, kernel_shape=3, stride=2, name=f"conv_{index}")
        for index, channels in enumerate(classifier_config.channels)]
    self._hidden = snt.Linear(classifier_config.hidden_size, name="hidden")
    self._logits = snt.Linear(classifier_config.max_count + 1, name="logits")

  def __call__(self, images: tf.Tensor) -> tf.Tensor:
    """`[B, max_count + 1]` logits of the count of `[B, H, W]` grey images
    (or `[B, H, W, 3]` colour ones) in [0, 1]."""
    features = images[..., tf.newaxis] if images.shape.rank == 3 else images
    for convolution in self._convolutions:
      features = tf.nn.relu(convolution(features))
    return self._logits(tf.nn.relu(self._hidden(snt.Flatten()(features))))

  def counts(self, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """`[K]` int64 most probable count of each of `[K, H, W]` images."""
    return np.concatenate([
        np.argmax(self(tf.constant(images[start:start + batch_size])), -1)
        for start in range(0, len(images), batch_size)])


def agreement(true_counts: np.ndarray, classifier_counts: np.ndarray,
              air_counts: np.ndarray) -> dict[str, int]:
  """How many of `[K]` scenes both, only one, or neither counts right."""
  classifier_right = classifier_counts == true_counts
  air_right = air_counts == true_counts
  return {
      "both_right": int(np.sum(classifier_right & air_right)),
      "only_classifier_right": int(np.sum(classifier_right & ~air_right)),
      "only_air_right": int(np.sum(~classifier_right & air_right)),
      "both_wrong": int(np.sum(~classifier_right & ~air_right)),
  }
