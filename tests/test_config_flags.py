"""Flags derived from configuration dataclasses: names, defaults, help,
types, and the dataclass rebuilt from them."""

import dataclasses
from typing import Optional

from absl import flags
import pytest

from air_tf import config_flags
from air_tf import tabletop_air
from air_tf.config import AIRConfig
from air_tf.datasets import DataConfig
from air_tf.training import TrainConfig
from air_tf.training_loop import Schedule
from air_tf.distribution import Devices
from air_tf.tabletop_air import TabletopConfig


@dataclasses.dataclass(frozen=True)
class Example:
  """An example.

  Attributes:
    steps: how many steps.
    rate: how fast, a
      long explanation.
    flag: on or off.
    mode: "a" or "b".
    sizes: layer sizes.
    path: where, if anywhere.
  """
  steps: int = 3
  rate: float = 0.5
  flag: bool = True
  mode: str = "a"
  sizes: tuple[int, ...] = (4, 8)
  path: Optional[str] = None


def _flag_values(argv):
  values = flags.FlagValues()
  config_flags.define_flags(Example, {"mode": ("a", "b")}, values)
  values(["program", *argv])
  return values


def test_help_comes_from_the_docstring():
  assert config_flags.field_help(Example) == {
      "steps": "how many steps.", "rate": "how fast, a long explanation.",
      "flag": "on or off.", "mode": '"a" or "b".', "sizes": "layer sizes.",
      "path": "where, if anywhere."}
  assert _flag_values([])["rate"].help == "how fast, a long explanation."


def test_defaults_give_the_default_configuration():
  assert config_flags.from_flags(Example, _flag_values([])) == Example()


def test_every_kind_of_field_is_parsed():
  values = _flag_values(["--steps=7", "--rate=1e-3", "--noflag", "--mode=b",
                         "--sizes=1,2,3", "--path=/x"])
  assert config_flags.from_flags(Example, values) == Example(
      7, 1e-3, False, "b", (1, 2, 3), "/x")


def test_bad_values_are_refused():
  with pytest.raises(flags.IllegalFlagValueError):
    _flag_values(["--mode=c"])
  with pytest.raises(ValueError, match="--sizes takes ints, got 1,x"):
    config_flags.from_flags(Example, _flag_values(["--sizes=1,x"]))


def test_a_prefix_names_the_flags_and_given_flags_lists_those_set():
  values = flags.FlagValues()
  config_flags.define_flags(Example, {"mode": ("a", "b")}, values,
                            prefix="other_")
  values(["program", "--other_steps=5", "--other_mode=b"])
  assert config_flags.from_flags(Example, values, prefix="other_") == (
      Example(steps=5, mode="b"))
  assert config_flags.given_flags(Example, values, prefix="other_") == [
      "other_steps", "other_mode"]
  assert config_flags.given_flags(Example, _flag_values([])) == []


def test_overrides_replace_flag_values():
  assert config_flags.from_flags(Example, _flag_values([]), steps=9).steps == 9


@pytest.mark.parametrize("kind", [AIRConfig, TabletopConfig, TrainConfig,
                                  DataConfig, Schedule, Devices])
def test_every_configuration_documents_every_field(kind):
  assert set(config_flags.field_help(kind)) == {
      field.name for field in dataclasses.fields(kind)}


def test_the_configurations_share_no_flag_name():
  names = [field.name for kind in (AIRConfig, TrainConfig, DataConfig,
                                   Schedule, Devices)
           for field in dataclasses.fields(kind)] + [
               tabletop_air.FLAG_PREFIX + field.name
               for field in dataclasses.fields(TabletopConfig)]
  assert len(names) == len(set(names))


def test_undocumented_fields_are_refused():

  @dataclasses.dataclass
  class Undocumented:
    """No attributes."""
    steps: int = 1

  with pytest.raises(ValueError, match="Undocumented.steps has no entry"):
    config_flags.define_flags(Undocumented, flag_values=flags.FlagValues())
