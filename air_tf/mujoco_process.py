"""MuJoCo's side of `mujoco_scenes`, run in a process of its own.

MuJoCo draws through OpenGL; under EGL without a GPU that is Mesa's
rasteriser, compiled at run time by its LLVM, and it crashes (a
segmentation fault in `Renderer.render`) in a process that has loaded
TensorFlow, whose XLA carries another LLVM. So this module imports neither
TensorFlow nor any module of air_tf that does: `mujoco_scenes` starts it
as a program of its own (`python -m air_tf.mujoco_process`; a
multiprocessing child would import the parent's main module, and with it
TensorFlow) and sends it requests over its standard input.

The protocol: each request is a pickled tuple of `render`'s arguments; each
reply a pickled ("frames", array) or ("error", message). Our own two
processes talk, nothing else writes to the pipe: whatever MuJoCo prints
goes to standard error.
"""

import functools
import os
import pickle
import sys

import numpy as np

# MuJoCo reads its OpenGL back end once, when imported.
os.environ.setdefault("MUJOCO_GL", "egl")


@functools.lru_cache(maxsize=4)
def _scene(xml: str, image_size: int):
  """(mujoco, model, data, renderer) of an MJCF scene, made once."""
  import mujoco  # pylint: disable=g-import-not-at-top
  model = mujoco.MjModel.from_xml_string(xml)
  data = mujoco.MjData(model)
  return mujoco, model, data, mujoco.Renderer(model, image_size, image_size)


def render(xml: str, image_size: int, camera: str, positions: np.ndarray,
           rotations: np.ndarray) -> np.ndarray:
  """Renders frames of an MJCF scene whose movable bodies are mocap bodies.

  Args:
    xml: the MJCF model.
    image_size: side of the square frames in pixels.
    camera: name of the camera to render from.
    positions: `[K, M, 3]` position of each mocap body in each frame.
    rotations: `[K, M, 4]` their orientations, unit quaternions (w, x, y, z).

  Returns:
    `[K, image_size, image_size, 3]` uint8 frames.
  """
  mujoco, model, data, renderer = _scene(xml, image_size)
  frames = np.zeros([len(positions), image_size, image_size, 3], np.uint8)
  for k, (position, rotation) in enumerate(zip(positions, rotations)):
    data.mocap_pos[:] = position
    data.mocap_quat[:] = rotation
    # Places the bodies, the camera and the light (mj_camlight).
    mujoco.mj_kinematics(model, data)
    mujoco.mj_camlight(model, data)
    renderer.update_scene(data, camera=camera)
    frames[k] = renderer.render()
  return frames


def serve() -> None:
  """Answers requests on standard input until it closes."""
  replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
  os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
  requests = sys.stdin.buffer
  while True:
    try:
      request = pickle.load(requests)
    except EOFError:
      return
    try:
      reply = ("frames", render(*request))
    except Exception as error:  # pylint: disable=broad-except
      reply = ("error", f"{type(error).__name__}: {error}")
    pickle.dump(reply, replies)
    replies.flush()


if __name__ == "__main__":
  serve()
