"""MuJoCo as AIR's fixed renderer, as the paper had it: an optional extra.

`MujocoRenderer` is a `TabletopRenderer` whose pictures MuJoCo draws
(`mujoco_scenes`), differentiated with respect to the objects' poses by
central finite differences of whole images, the paper's way (MuJoCo gives
no gradients). It runs outside TensorFlow's graph (`tf.numpy_function`), so
a model that uses it trains without XLA and cannot be exported as a
SavedModel. The objects' silhouettes (their boxes) are the TF renderer's,
of the same geometry.
"""

import tensorflow as tf

from air_tf import mujoco_scenes
from air_tf.tabletop_renderer import Camera, TabletopRenderer


class MujocoRenderer(TabletopRenderer):
  """Table-top scenes drawn by MuJoCo, with finite-difference gradients."""

  def __init__(self, camera: Camera = Camera(),
               finite_difference_step: float | None = None,
               name: str = "mujoco_renderer"):
    """Constructs the renderer.

    Args:
      camera: the camera, light and table.
      finite_difference_step: the pose step of the finite differences
        (world units and radians). None: 2 / image_size, about a pixel at
        the table's middle: MuJoCo's edges are sharp, and a step much
        smaller than a pixel moves no edge pixel at all.
      name: the module's name.

    Raises:
      RuntimeError: MuJoCo cannot render here; the message says why.
    """
    reason = mujoco_scenes.unavailable_reason()
    if reason is not None:
      raise RuntimeError(f"The MuJoCo renderer needs MuJoCo: {reason}.")
    step = (2.0 / camera.image_size if finite_difference_step is None
            else finite_difference_step)
    super().__init__(camera, gradients="finite_differences",
                     finite_difference_step=step, name=name)

  def _render(self, presence: tf.Tensor, identity: tf.Tensor,
              pose: tf.Tensor) -> tf.Tensor:
    """MuJoCo's pictures of `[B, N]` presences, `[B, N, S]` one-hot
    identities (a mixture draws its most probable shape) and `[B, N, 3]`
    poses, `[B, H, W, 3]` in [0, 1]."""
    identities = tf.where(presence > 0.5,
                          tf.argmax(identity, axis=-1, output_type=tf.int32),
                          -1)
    images = tf.numpy_function(
        lambda identities, poses: mujoco_scenes.render_scenes(
            identities, poses, self.camera),
        [identities, pose], tf.uint8, stateful=False)
    images = tf.cast(images, tf.float32) / 255.0
    size = self.image_size
    return tf.ensure_shape(images, [None, size, size, 3])
