"""Which scenes a run trains and is tested on, saved with the run."""

import dataclasses
import json
from typing import Optional

from air_tf import config
from air_tf import data
from air_tf import omniglot
from air_tf import sprites

DATASETS = ("multi_mnist", "sprites", "omniglot")
_DEFAULT_COUNTS = {"multi_mnist": (0, 1, 2), "sprites": (0, 1, 2, 3),
                   "omniglot": (0, 1, 2)}


@dataclasses.dataclass(frozen=True)
class DataConfig:
  """The scenes of a run.

  Attributes:
    name: one of `DATASETS`.
    counts: numbers of objects of the training scenes; None stands for the
      dataset's own (0-2, or 0-3 for sprites) and is replaced by them, so
      that a run recorded either way compares equal.
    test_counts: those of the held-out scenes; None: `counts`.
    seed: seed of the scene generator.
    mnist_path: MNIST files for multi_mnist (see `data.load_mnist`).
    omniglot_dir: Omniglot's image folders, required for omniglot.
  """
  name: str = "multi_mnist"
  counts: Optional[tuple[int, ...]] = None
  test_counts: Optional[tuple[int, ...]] = None
  seed: int = 0
  mnist_path: Optional[str] = None
  omniglot_dir: Optional[str] = None

  def __post_init__(self):
    if self.name not in DATASETS:
      raise ValueError(f"Unknown dataset {self.name!r}; expected one of "
                       f"{DATASETS}.")
    if self.name == "omniglot" and not self.omniglot_dir:
      raise ValueError("The omniglot dataset needs --omniglot_dir: Omniglot "
                       "is user-provided (see README).")
    # Frozen: the defaults are filled in through object.__setattr__.
    if self.counts is None:
      object.__setattr__(self, "counts", _DEFAULT_COUNTS[self.name])
    if self.test_counts is None:
      object.__setattr__(self, "test_counts", self.counts)
    for name in ("counts", "test_counts"):
      value = tuple(getattr(self, name))
      if not value or min(value) < 0:
        raise ValueError(f"{name} must be non-negative numbers, got {value}.")
      object.__setattr__(self, name, value)

  def to_json(self) -> str:
    return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

  @classmethod
  def from_json(cls, text: str) -> "DataConfig":
    return config.dataclass_from_json(cls, text)


def make_scenes(config: DataConfig, num_train: int, num_test: int,
                canvas_size: int) -> tuple[data.Scenes, data.Scenes]:
  """(train, held-out) scenes of `config`; the held-out ones are built
  from objects that no training scene uses (for sprites: other draws)."""
  if config.name == "multi_mnist":
    return data.multi_mnist(config.mnist_path, num_train, num_test,
                            config.seed, canvas_size, config.counts,
                            config.test_counts)
  if config.name == "omniglot":
    return omniglot.multi_omniglot(config.omniglot_dir, num_train, num_test,
                                   config.seed, canvas_size,
                                   config.counts, config.test_counts)
  return (sprites.multi_sprites(num_train, config.seed, canvas_size,
                                config.counts),
          sprites.multi_sprites(num_test, config.seed + 1, canvas_size,
                                config.test_counts))
