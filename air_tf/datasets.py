"""Which scenes a run trains and is tested on, saved with the run."""

import dataclasses
from typing import Any, Optional

from air_tf import config
from air_tf import mnist
from air_tf import scenes
from air_tf import omniglot
from air_tf import sprites
from air_tf import tabletop

DATASETS = ("multi_mnist", "sprites", "omniglot", "tabletop")
_DEFAULT_COUNTS = {"multi_mnist": (0, 1, 2), "sprites": (0, 1, 2, 3),
                   "omniglot": (0, 1, 2), "tabletop": (0, 1, 2, 3)}


@dataclasses.dataclass(frozen=True)
class DataConfig(config.JsonConfig):
  """The scenes of a run.

  Attributes:
    dataset: one of `DATASETS`.
    counts: numbers of objects of the training scenes; None stands for the
      dataset's own (0-2, or 0-3 for sprites and tabletop) and is replaced
      by them, so that a run recorded either way compares equal.
    test_counts: those of the held-out scenes; None: `counts`.
    data_seed: seed of the scene generator.
    layout: how multi_mnist and omniglot place objects, one of
      `scenes.LAYOUTS`: "ink_apart" (inks never touch, boxes may overlap) or
      "pyro" (Pyro's multi_mnist: whole digit images added anywhere,
      scenes whose summed ink saturates redrawn).
    digit_sizes: (min, max) side in pixels of multi_mnist's digits, drawn
      uniformly: (14, 28) by default spans the shrunk digits of the public
      reproductions up to the paper's full-size ones. None with the "pyro"
      layout, which draws Pyro's sizes (28 / Normal(1.3, 0.1)).
    mnist_path: MNIST files for multi_mnist (see `mnist.load_mnist`).
    omniglot_dir: Omniglot's image folders, required for omniglot.
    scene_renderer: what draws tabletop's pictures, one of
      `tabletop.SCENE_RENDERERS`: "tensorflow" (air_tf's renderer, AIR's
      own model of the scenes) or "mujoco" (the paper's renderer, an
      optional extra: `pip install mujoco` and EGL; see README).
  """
  dataset: str = "multi_mnist"
  counts: Optional[tuple[int, ...]] = None
  test_counts: Optional[tuple[int, ...]] = None
  data_seed: int = 0
  layout: str = "ink_apart"
  digit_sizes: Optional[tuple[int, int]] = None
  mnist_path: Optional[str] = None
  omniglot_dir: Optional[str] = None
  scene_renderer: str = "tensorflow"

  def __post_init__(self):
    if self.dataset not in DATASETS:
      raise ValueError(f"Unknown dataset {self.dataset!r}; expected one of "
                       f"{DATASETS}.")
    if self.dataset == "omniglot" and not self.omniglot_dir:
      raise ValueError("The omniglot dataset needs --omniglot_dir: Omniglot "
                       "is user-provided (see README).")
    # Frozen: the defaults are filled in through object.__setattr__.
    if self.counts is None:
      object.__setattr__(self, "counts", _DEFAULT_COUNTS[self.dataset])
    if self.test_counts is None:
      object.__setattr__(self, "test_counts", self.counts)
    if self.data_seed < 0:
      raise ValueError(f"data_seed must be >= 0, got {self.data_seed}.")
    if self.scene_renderer not in tabletop.SCENE_RENDERERS:
      raise ValueError(f"Unknown scene_renderer {self.scene_renderer!r}; "
                       f"expected one of {tabletop.SCENE_RENDERERS}.")
    if self.dataset != "tabletop" and self.scene_renderer != "tensorflow":
      raise ValueError(f"scene_renderer applies to the tabletop dataset "
                       f"only (dataset {self.dataset!r}); leave it unset.")
    if self.layout not in scenes.LAYOUTS:
      raise ValueError(f"Unknown layout {self.layout!r}; expected one of "
                       f"{scenes.LAYOUTS}.")
    if self.dataset != "multi_mnist" or self.layout == "pyro":
      if self.digit_sizes is not None:
        raise ValueError(f"digit_sizes applies to multi_mnist with layout "
                         f"ink_apart only (dataset {self.dataset!r}, layout "
                         f"{self.layout!r}); leave it unset.")
    elif self.digit_sizes is None:
      object.__setattr__(self, "digit_sizes", mnist.DIGIT_SIZES)
    else:
      sizes = tuple(self.digit_sizes)
      if len(sizes) != 2 or not 1 <= sizes[0] <= sizes[1]:
        raise ValueError(f"digit_sizes must be (min, max) pixels with "
                         f"1 <= min <= max, got {sizes}.")
      object.__setattr__(self, "digit_sizes", sizes)
    for name in ("counts", "test_counts"):
      value = tuple(getattr(self, name))
      if not value or min(value) < 0:
        raise ValueError(f"{name} must be non-negative numbers, got {value}.")
      object.__setattr__(self, name, value)

  @classmethod
  def _upgrade(cls, fields: dict[str, Any]) -> dict[str, Any]:
    # Runs recorded before air_tf named the fields as their flags.
    return {_RENAMED_FIELDS.get(name, name): value
            for name, value in fields.items()}


_RENAMED_FIELDS = {"name": "dataset", "seed": "data_seed"}


# Held-out multi-MNIST scenes of one digit-size band, or Pyro's layout, on
# which a model trained on any multi-MNIST is also counted (issue 13).
_VARIANTS = {"digits_14_18px": {"digit_sizes": (14, 18)},
             "digits_18_24px": {"digit_sizes": (18, 24)},
             "digits_24_28px": {"digit_sizes": (24, 28)},
             "digits_28px": {"digit_sizes": (28, 28)},
             "pyro_layout": {"layout": "pyro", "digit_sizes": None}}


# The final evaluation's scenes come from the generator seeded this much
# further on: drawn like the held-out scenes watched during training, and
# independently of them.
_FINAL_EVALUATION_SEED_OFFSET = 1000


def final_evaluation_config(config: DataConfig) -> DataConfig:
  """The scenes of a run's final evaluation (`experiments/evaluate.py`):
  `config`'s held-out scenes, drawn independently of those that training
  evaluated every `--eval_every` steps."""
  return dataclasses.replace(
      config, data_seed=config.data_seed + _FINAL_EVALUATION_SEED_OFFSET)


def held_out_variants(config: DataConfig) -> dict[str, DataConfig]:
  """Other held-out scene sets of a multi_mnist `config`, by name: digits
  of one size band (14-18, 18-24, 24-28 and 28 px, with inks apart), and
  Pyro's layout and sizes. Empty for other datasets."""
  if config.dataset != "multi_mnist":
    return {}
  base = dataclasses.replace(config, layout="ink_apart")
  return {name: dataclasses.replace(base, **fields)
          for name, fields in _VARIANTS.items()}


def make_scenes(config: DataConfig, num_train: int, num_test: int,
                canvas_size: int
                ) -> tuple[scenes.Scenes | tabletop.TabletopScenes,
                           scenes.Scenes | tabletop.TabletopScenes]:
  """(train, held-out) scenes of `config`; the held-out ones are built
  from objects that no training scene uses (for sprites and tabletop:
  other draws)."""
  if config.dataset == "tabletop":
    return (tabletop.tabletop_scenes(
        num_train, config.data_seed, config.counts, canvas_size,
        scene_renderer=config.scene_renderer),
            tabletop.tabletop_scenes(
                num_test, config.data_seed + 1, config.test_counts,
                canvas_size, scene_renderer=config.scene_renderer))
  if config.dataset == "multi_mnist":
    return mnist.multi_mnist(config.mnist_path, num_train, num_test,
                            config.data_seed, canvas_size, config.counts,
                            config.test_counts, config.layout,
                            config.digit_sizes)
  if config.dataset == "omniglot":
    return omniglot.multi_omniglot(config.omniglot_dir, num_train, num_test,
                                   config.data_seed, canvas_size,
                                   config.counts, config.test_counts,
                                   config.layout)
  return (sprites.multi_sprites(num_train, config.data_seed, canvas_size,
                                config.counts),
          sprites.multi_sprites(num_test, config.data_seed + 1, canvas_size,
                                config.test_counts))
