"""Table-top scenes: 0-3 cubes, spheres and cylinders standing on a table,
seen by a fixed camera under a fixed light, with their ground truth.

The paper's 3D experiment in the project's own, generated form. Each object
draws its shape uniformly from `shapes.SHAPES`, its centre uniformly from
the square of half-width `PLACEMENT_HALF_WIDTH` on the table, and its
rotation about the vertical axis uniformly; a scene is redrawn while two
objects would interpenetrate. The image is rendered by the same
`TabletopRenderer` that AIR's generative model uses, with sharp edges, or
by MuJoCo (`mujoco_scenes`, an optional extra: the paper's renderer,
another picture of the same geometry).
"""

import dataclasses
import functools
import itertools
from typing import Sequence

import numpy as np
import tensorflow as tf

from air_tf import mujoco_scenes
from air_tf import shapes
from air_tf import spatial_transformer
from air_tf.tabletop_renderer import Camera, TabletopRenderer

# What draws the scenes' pictures: air_tf's own renderer, or MuJoCo.
SCENE_RENDERERS = ("tensorflow", "mujoco")

# Object centres are drawn from [-w, w]^2: the "table" of the position error.
PLACEMENT_HALF_WIDTH = 0.65
# Gap kept between the footprints of two objects.
_CLEARANCE = 0.02
_MAX_PLACEMENT_TRIES = 1000
# Sharp edges: a tenth of a pixel.
_EDGE_SOFTNESS = 0.004
_RENDER_BATCH = 64
# Bands of the true angle's distance from the seam of its period
# (`shapes.distance_from_seam`), in degrees, over which rotation errors
# are reported apart: a network that regresses stated angles errs near it.
SEAM_BANDS_DEG = (0, 5, 10, 20, 45)


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


def make_scene_renderer(image_size: int = 64) -> TabletopRenderer:
  """The renderer of the scenes: the default camera at `image_size`, sharp
  edges."""
  return TabletopRenderer(Camera(image_size=image_size),
                          edge_softness=_EDGE_SOFTNESS)


@functools.cache
def _compiled_scene_renderer(image_size: int, jit_compile: bool):
  """(renderer, its `__call__` and its `silhouettes` as tf.functions),
  built once per process: a run draws its training and held-out scenes
  with them, and compiling them again took seconds."""
  renderer = make_scene_renderer(image_size)
  return (renderer,
          tf.function(renderer.__call__, jit_compile=jit_compile,
                      autograph=False),
          tf.function(renderer.silhouettes, jit_compile=jit_compile,
                      autograph=False))


def tabletop_scenes(num_images: int, seed: int,
                    counts: Sequence[int] = (0, 1, 2, 3),
                    image_size: int = 64,
                    jit_compile: bool = True,
                    scene_renderer: str = "tensorflow") -> TabletopScenes:
  """Draws and renders table-top scenes.

  Args:
    num_images: K.
    seed: makes the result deterministic.
    counts: the numbers of objects to draw from, uniformly.
    image_size: side of the square images.
    jit_compile: render with XLA: ~5x faster per scene, ~5 s longer to
      start.
    scene_renderer: one of `SCENE_RENDERERS`: what draws the pictures of
      the same drawn objects (the boxes are the TF renderer's silhouettes
      of the same geometry either way).

  Returns:
    The `TabletopScenes`, with N = max(counts) object slots.
  """
  if not counts or min(counts) < 0:
    raise ValueError(f"counts must be non-negative numbers, got {counts}.")
  if scene_renderer not in SCENE_RENDERERS:
    raise ValueError(f"scene_renderer must be one of {SCENE_RENDERERS}, got "
                     f"{scene_renderer!r}.")
  renderer, render, silhouettes = _compiled_scene_renderer(image_size,
                                                          jit_compile)
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
  # Always called with full batches (the last one padded): traced once.
  padding = -num_images % _RENDER_BATCH
  pad = lambda array: np.concatenate(
      [array, np.zeros([padding, *array.shape[1:]], array.dtype)])
  presence, one_hot, padded_poses = pad(presence), pad(one_hot), pad(poses)
  for start in range(0, num_images, _RENDER_BATCH):
    part = slice(start, start + _RENDER_BATCH)
    kept = min(_RENDER_BATCH, num_images - start)
    if scene_renderer == "tensorflow":
      rendered = render(presence[part], one_hot[part],
                        padded_poses[part]).numpy()[:kept]
      images[start:start + kept] = np.round(
          np.clip(rendered, 0, 1) * 255).astype(np.uint8)
    alone = silhouettes(one_hot[part].reshape(-1, shapes.NUM_SHAPES),
                        padded_poses[part].reshape(-1, 3)) > 0.5
    boxes[start:start + kept] = spatial_transformer.mask_boxes(
        alone).numpy().reshape(-1, max_objects, 4)[:kept]
  presence = presence[:num_images]
  boxes *= presence[..., np.newaxis]
  if scene_renderer == "mujoco":
    images = mujoco_scenes.render_scenes(identities, poses, renderer.camera)
  return TabletopScenes(images, image_counts, identities, poses, boxes)


def _matching(true_centres: np.ndarray, inferred_centres: np.ndarray
              ) -> tuple[tuple[int, ...], tuple[int, ...]]:
  """(true, inferred) indices of the min(T, I) pairs of `[T, 2]` and
  `[I, 2]` centres whose summed distance is least (T, I are a few)."""
  pairs = min(len(true_centres), len(inferred_centres))
  candidates = [(true, inferred) for true in itertools.combinations(
      range(len(true_centres)), pairs) for inferred in itertools.permutations(
          range(len(inferred_centres)), pairs)]
  return min(candidates, key=lambda pair: np.linalg.norm(
      true_centres[list(pair[0])] - inferred_centres[list(pair[1])],
      axis=-1).sum())


def object_figures(scenes: TabletopScenes, present: np.ndarray,
                   poses: np.ndarray, identities: np.ndarray
                   ) -> dict[str, float]:
  """How well inferred objects match the scenes' own, over matched pairs.

  In each scene the inferred and true objects are paired (as many pairs as
  the fewer of them) so that the summed distance of their centres is least.

  Args:
    scenes: the ground truth.
    present: `[K, N]` which inferred objects are present.
    poses: `[K, N, 3]` inferred (x, y, rotation).
    identities: `[K, N]` inferred index into `shapes.SHAPES`.

  Returns:
    "matched_objects": pairs found; "identity_accuracy": fraction of pairs
    of the same shape; "median_position_error": median distance of paired
    centres as a fraction of the table's width; "median_rotation_error_deg":
    median rotation error modulo the true shape's symmetry over pairs whose
    true shape's rotation shows (cubes), NaN if none; and the same median
    over the pairs in each band of `SEAM_BANDS_DEG`,
    "median_rotation_error_deg_LO-HI_from_seam".
  """
  same, distances, rotations, true_angles = [], [], [], []
  for k in range(len(scenes)):
    count = scenes.counts[k]
    found = np.flatnonzero(present[k])
    true_index, inferred_index = _matching(scenes.poses[k, :count, :2],
                                           poses[k, found, :2])
    if not true_index:
      continue
    true_index, inferred_index = list(true_index), found[list(inferred_index)]
    truth = scenes.identities[k, true_index]
    same.extend(identities[k, inferred_index] == truth)
    distances.extend(np.linalg.norm(scenes.poses[k, true_index, :2] -
                                    poses[k, inferred_index, :2], axis=-1))
    rotations.extend(shapes.rotation_error(poses[k, inferred_index, 2],
                                           scenes.poses[k, true_index, 2],
                                           truth))
    true_angles.extend(scenes.poses[k, true_index, 2])
  rotations = np.degrees(np.array(rotations, np.float64))
  shows = ~np.isnan(rotations)
  from_seam = np.degrees(shapes.distance_from_seam(np.array(true_angles)))
  figures = {"matched_objects": len(same),
             "identity_accuracy": float(np.mean(same)) if same else np.nan,
             "median_position_error": float(np.median(distances)) / (
                 2 * PLACEMENT_HALF_WIDTH) if distances else np.nan,
             "median_rotation_error_deg": _median(rotations[shows])}
  # The last band holds its upper edge (the middle of the period).
  bands = np.minimum(np.digitize(from_seam, SEAM_BANDS_DEG) - 1,
                     len(SEAM_BANDS_DEG) - 2)
  for band, (low, high) in enumerate(zip(SEAM_BANDS_DEG[:-1],
                                         SEAM_BANDS_DEG[1:])):
    figures[f"median_rotation_error_deg_{low}-{high}_from_seam"] = _median(
        rotations[shows & (bands == band)])
  return figures


def _median(values: np.ndarray) -> float:
  """The median of `[M]` values; NaN if there are none."""
  return float(np.median(values)) if len(values) else np.nan
