"""Table-top scenes drawn by MuJoCo, the paper's renderer: an optional extra.

It needs the `mujoco` package (`pip install mujoco`, or `.[mujoco]`) and
an OpenGL context without a display: EGL (`MUJOCO_GL=egl`, which
`mujoco_process` sets unless it is set; Debian's `libegl1`,
`libegl-mesa0` and `libgl1-mesa-dri`).

The scene is the one `tabletop_renderer.TabletopRenderer` draws: its camera
(position, look-at point, field of view), its light's direction and ambient
share, its table colour, and `shapes.SHAPES` (sizes, colours) as MuJoCo's
box, sphere and cylinder standing on a plane. MuJoCo lights them with
OpenGL's model, albedo x (ambient + (1 - ambient) max(0, n . light)) as
the TF renderer does, without specular light, shadows or multisampling;
its pictures differ from the TF renderer's in how curved surfaces are
tessellated and how edge pixels are sampled, not in geometry.

MuJoCo renders in a process of its own (`mujoco_process`, which says why),
started on first use.
"""

import functools
import os
import pickle
import subprocess
import sys
import threading
from typing import Optional

import numpy as np

from air_tf import shapes
from air_tf.tabletop_renderer import Camera, camera_frame

INSTALL_HINT = ("pip install mujoco, and for rendering without a display "
                "EGL: apt install libegl1 libegl-mesa0 libgl1-mesa-dri")
# Objects not in a scene wait here, out of the camera's view.
_PARKED = (50.0, 50.0, -10.0)
_TABLE_HALF_SIZE = 10.0
_CAMERA = "camera"


class _RenderProcess:
  """The program MuJoCo renders in (`mujoco_process`), started once."""

  def __init__(self):
    package_parent = os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))
    path = os.pathsep.join(filter(None, [package_parent,
                                         os.environ.get("PYTHONPATH")]))
    self._process = subprocess.Popen(
        [sys.executable, "-m", "air_tf.mujoco_process"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": path})
    # TensorFlow runs independent ops at once: one request at a time on
    # the pipe, or two replies cross.
    self._lock = threading.Lock()

  def render(self, *arguments) -> np.ndarray:
    """`mujoco_process.render(*arguments)`, in the other process."""
    try:
      with self._lock:
        pickle.dump(arguments, self._process.stdin)
        self._process.stdin.flush()
        kind, value = pickle.load(self._process.stdout)
    except (BrokenPipeError, EOFError):
      raise RuntimeError(f"the MuJoCo process ended (exit status "
                         f"{self._process.wait()})") from None
    if kind == "error":
      raise RuntimeError(value)
    return value


@functools.lru_cache(maxsize=1)
def _render_process() -> _RenderProcess:
  return _RenderProcess()


@functools.lru_cache(maxsize=1)
def unavailable_reason() -> Optional[str]:
  """None where MuJoCo can render here; otherwise why it cannot (for
  tests that skip and errors that say what to install)."""
  try:
    render_scenes(np.full([1, 1], -1), np.zeros([1, 1, 3]),
                  Camera(image_size=8), checked=False)
  except RuntimeError as error:
    return f"MuJoCo cannot render here ({error}); {INSTALL_HINT}"
  return None


def scene_xml(camera: Camera, max_objects: int) -> str:
  """The MJCF model of the table, camera, light and `max_objects` objects
  of each shape (mocap bodies, parked out of view until placed)."""
  frame = camera_frame(camera)
  light = np.array(camera.light) / np.linalg.norm(camera.light)
  ambient = camera.ambient
  numbers = lambda values: " ".join(f"{value:.6g}" for value in values)
  materials, bodies = [], []
  for shape in shapes.SHAPES:
    materials.append(
        f'<material name="{shape.name}" rgba="{numbers(shape.colour)} 1" '
        f'specular="0" shininess="0" reflectance="0"/>')
    if shape.name == "cube":
      geom = f'type="box" size="{numbers([shape.half_width] * 2)} ' \
             f'{shape.half_height:.6g}"'
    elif shape.name == "sphere":
      geom = f'type="sphere" size="{shape.half_height:.6g}"'
    else:
      geom = f'type="cylinder" size="{shape.half_width:.6g} ' \
             f'{shape.half_height:.6g}"'
    for slot in range(max_objects):
      bodies.append(
          f'<body name="{shape.name}_{slot}" mocap="true" '
          f'pos="{numbers(_PARKED)}"><geom {geom} material="{shape.name}" '
          f'contype="0" conaffinity="0"/></body>')
  size = camera.image_size
  return f"""
<mujoco>
  <visual>
    <global offwidth="{size}" offheight="{size}"/>
    <quality shadowsize="0" offsamples="0"/>
    <headlight ambient="{numbers([ambient] * 3)}" diffuse="0 0 0"
               specular="0 0 0"/>
    <map znear="0.01" zfar="100"/>
  </visual>
  <asset>
    <material name="table" rgba="{numbers(camera.table_colour)} 1"
              specular="0" shininess="0" reflectance="0"/>
    {"".join(materials)}
  </asset>
  <worldbody>
    <light directional="true" dir="{numbers(-light)}"
           diffuse="{numbers([1 - ambient] * 3)}" specular="0 0 0"
           castshadow="false"/>
    <geom type="plane" size="{_TABLE_HALF_SIZE} {_TABLE_HALF_SIZE} 0.1"
          material="table"/>
    <camera name="{_CAMERA}" pos="{numbers(frame.position)}"
            xyaxes="{numbers(frame.right)} {numbers(frame.up)}"
            fovy="{camera.field_of_view:.6g}"/>
    {"".join(bodies)}
  </worldbody>
</mujoco>"""


def render_scenes(identities: np.ndarray, poses: np.ndarray,
                  camera: Camera = Camera(), checked: bool = True
                  ) -> np.ndarray:
  """Renders scenes with MuJoCo.

  Args:
    identities: `[K, N]` int index into `shapes.SHAPES`, -1 for no object.
    poses: `[K, N, 3]` (x, y) on the table and rotation about the vertical
      axis (radians, counter-clockwise seen from above).
    camera: the camera, light and table (`tabletop_renderer.Camera`).
    checked: first check that MuJoCo can render here (False: let its
      error through).

  Returns:
    `[K, H, W, 3]` uint8 images.

  Raises:
    RuntimeError: MuJoCo cannot render here; the message says why.
  """
  if checked and unavailable_reason() is not None:
    raise RuntimeError(f"MuJoCo scenes need MuJoCo: {unavailable_reason()}.")
  max_objects = max(identities.shape[1], 1)
  # Mocap bodies are numbered as the model declares them: by shape, then
  # by slot; those a scene leaves out stay parked.
  positions = np.tile(np.array(_PARKED), [len(identities),
                                          shapes.NUM_SHAPES * max_objects, 1])
  rotations = np.zeros(positions.shape[:2] + (4,))
  rotations[..., 0] = 1.0
  heights = np.array([shape.half_height for shape in shapes.SHAPES])
  scene, slot = np.nonzero(identities >= 0)
  body = identities[scene, slot] * max_objects + slot
  x, y, angle = (poses[scene, slot, axis] for axis in range(3))
  positions[scene, body] = np.stack(
      [x, y, heights[identities[scene, slot]]], axis=1)
  rotations[scene, body] = np.stack(
      [np.cos(angle / 2), 0 * angle, 0 * angle, np.sin(angle / 2)], axis=1)
  return _render_process().render(scene_xml(camera, max_objects),
                                  camera.image_size, _CAMERA, positions,
                                  rotations)
