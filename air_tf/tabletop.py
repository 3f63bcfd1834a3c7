"""Table-top scenes: 0-3 cubes, spheres and cylinders standing on a table,
seen by a fixed camera under a fixed light, with their ground truth.

The paper's 3D experiment in the project's own, generated form. Each object
draws its shape uniformly from `shapes.SHAPES`, its centre uniformly from
the square of half-width `PLACEMENT_HALF_WIDTH` on the table, and its
rotation about the vertical axis uniformly; a scene is redrawn while two
objects would interpenetrate. The image is rendered by the same
`TabletopRenderer` that AIR's generative model uses, with sharp edges.
"""

import dataclasses
from typing import Sequence

import numpy as np
import tensorflow as tf

from air_tf import shapes
from air_tf.tabletop_renderer import TabletopRenderer

# Object centres are drawn from [-w, w]^2: the "table" of the position error.
PLACEMENT_HALF_WIDTH = 0.65
# Gap kept between the footprints of two objects.
_CLEARANCE = 0.02
_MAX_PLACEMENT_TRIES = 1000
# Sharp edges: a tenth of a pixel.
_EDGE_SOFTNESS = 0.004
_RENDER_BATCH = 64


@dataclasses.dataclass(frozen=True)
class TabletopScenes:
  """Rendered scenes and the ground truth of each object.

  Attributes:
    images: `[K, H, W, 3]` uint8 colour images.
    counts: `[K]` int32 number of objects.
    identities: `[K, N]` int32 index into `shapes.SHAPES`; -1 past the count.
    poses: `[K, N, 3]` float32 (x, y) on the table and rotation about the
      vertical axis in [0, 2 pi); 0 past the count.
    boxes: `[K, N, 4]` float32 (ymin, xmin, ymax, xmax) pixel edges of each
      object's whole silhouette (as if nothing hid it); 0 past the count.
  """
  images: np.ndarray
  counts: np.ndarray
  identities: np.ndarray
  poses: np.ndarray
  boxes: np.ndarray

  def __len__(self) -> int:
    return len(self.images)

  def float_images(self) -> np.ndarray:
    """`[K, H, W, 3]` float32 images in [0, 1]."""
    return self.images.astype(np.float32) / 255.0


def _place(count: int, rng: np.random.Generator):
  """Shapes `[count]` and poses `[count, 3]` of objects that stay apart."""
  identities = rng.integers(shapes.NUM_SHAPES, size=count)
  radii = np.array([shapes.SHAPES[i].footprint_radius for i in identities])
  for _ in range(_MAX_PLACEMENT_TRIES):
    centres = rng.uniform(-PLACEMENT_HALF_WIDTH, PLACEMENT_HALF_WIDTH,
                          [count, 2])
    apart = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
    needed = radii[:, None] + radii[None] + _CLEARANCE
    if np.all(apart[~np.eye(count, dtype=bool)] >
              needed[~np.eye(count, dtype=bool)]):
      angles = rng.uniform(0, 2 * np.pi, [count, 1])
      return identities, np.concatenate([centres, angles], axis=1)
  raise ValueError(f"Could not place {count} objects apart on the table.")


def _silhouette_boxes(mask: np.ndarray) -> np.ndarray:
  """(ymin, xmin, ymax, xmax) pixel edges of each `[M, H, W]` bool mask."""
  boxes = np.zeros([len(mask), 4], np.float32)
  for m, pixels in enumerate(mask):
    rows = np.flatnonzero(pixels.any(axis=1))
    columns = np.flatnonzero(pixels.any(axis=0))
    if len(rows):
      boxes[m] = rows[0], columns[0], rows[-1] + 1, columns[-1] + 1
  return boxes


def tabletop_scenes(num_images: int, seed: int,
                    counts: Sequence[int] = (0, 1, 2, 3),
                    renderer: TabletopRenderer | None = None,
                    jit_compile: bool = True) -> TabletopScenes:
  """Draws and renders table-top scenes.

  Args:
    num_images: K.
    seed: makes the result deterministic.
    counts: the numbers of objects to draw from, uniformly.
    renderer: renders the images; default: the default camera with sharp
      edges.
    jit_compile: render with XLA: ~5x faster per scene, ~5 s longer to
      start.

  Returns:
    The `TabletopScenes`, with N = max(counts) object slots.
  """
  if not counts or min(counts) < 0:
    raise ValueError(f"counts must be non-negative numbers, got {counts}.")
  if renderer is None:
    renderer = TabletopRenderer(edge_softness=_EDGE_SOFTNESS)
  max_objects = max(max(counts), 1)
  image_counts = np.zeros([num_images], np.int32)
  identities = np.full([num_images, max_objects], -1, np.int32)
  poses = np.zeros([num_images, max_objects, 3], np.float32)
  for k in range(num_images):
    # Scene k depends on (seed, k) alone: a longer set begins with a
    # shorter one.
    rng = np.random.default_rng([seed, k])
    count = image_counts[k] = rng.choice(counts)
    identities[k, :count], poses[k, :count] = _place(count, rng)
  presence = (identities >= 0).astype(np.float32)
  one_hot = np.eye(shapes.NUM_SHAPES, dtype=np.float32)[
      np.maximum(identities, 0)]
  size = renderer.image_size
  images = np.zeros([num_images, size, size, 3], np.uint8)
  boxes = np.zeros([num_images, max_objects, 4], np.float32)
  # Compiled, and always called with full batches (the last one padded),
  # so that it is traced once.
  render = tf.function(renderer.__call__, jit_compile=jit_compile)
  silhouettes = tf.function(renderer.silhouettes, jit_compile=jit_compile)
  padding = -num_images % _RENDER_BATCH
  pad = lambda array: np.concatenate(
      [array, np.zeros([padding, *array.shape[1:]], array.dtype)])
  presence, one_hot, padded_poses = pad(presence), pad(one_hot), pad(poses)
  for start in range(0, num_images, _RENDER_BATCH):
    part = slice(start, start + _RENDER_BATCH)
    kept = min(_RENDER_BATCH, num_images - start)
    rendered = render(presence[part], one_hot[part],
                      padded_poses[part]).numpy()[:kept]
    images[start:start + kept] = np.round(
        np.clip(rendered, 0, 1) * 255).astype(np.uint8)
    alone = silhouettes(one_hot[part].reshape(-1, shapes.NUM_SHAPES),
                        padded_poses[part].reshape(-1, 3)).numpy() > 0.5
    boxes[start:start + kept] = _silhouette_boxes(alone).reshape(
        -1, max_objects, 4)[:kept]
  presence = presence[:num_images]
  boxes *= presence[..., np.newaxis]
  return TabletopScenes(images, image_counts, identities, poses, boxes)
