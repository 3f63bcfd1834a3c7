"""Command-line flags derived from configuration dataclasses.

Each field of a configuration dataclass becomes the flag of the same name,
with the field's default and the help of its docstring's `Attributes:`
entry, so that a setting is declared once. Chosen over `ml_collections`'
config flags because the configurations are frozen dataclasses that are
also saved with a run, and absl's typed flags (integers, floats, enums,
lists) keep `--help` and the errors for bad values as users know them.
"""

import dataclasses
import re
import typing
from typing import Any, Mapping, Optional, Sequence

from absl import flags

_ATTRIBUTE = re.compile(r"^    (\w+): (.*)$")


def field_help(cls: type) -> dict[str, str]:
  """Field name -> the text of its entry in `cls`'s `Attributes:` section."""
  helps, name, in_attributes = {}, None, False
  for line in (cls.__doc__ or "").splitlines():
    if line.strip() == "Attributes:":
      in_attributes = True
      continue
    if not in_attributes:
      continue
    match = _ATTRIBUTE.match(line)
    if match:
      name = match.group(1)
      helps[name] = match.group(2)
    elif line.startswith("      ") and name:
      helps[name] += " " + line.strip()
    elif line.strip():
      break
  return helps


def _kind(annotation) -> tuple[type, bool, Optional[type]]:
  """(base type, optional?, element type of a tuple or None)."""
  optional = False
  if typing.get_origin(annotation) is typing.Union:
    (annotation,) = [arg for arg in typing.get_args(annotation)
                     if arg is not type(None)]
    optional = True
  if typing.get_origin(annotation) is tuple:
    return tuple, optional, typing.get_args(annotation)[0]
  return annotation, optional, None


def define_flags(cls: type,
                 choices: Mapping[str, Sequence[str]] = None,
                 flag_values: flags.FlagValues = flags.FLAGS,
                 prefix: str = "") -> None:
  """Defines one flag per field of the dataclass `cls`.

  Args:
    cls: a dataclass whose fields all have defaults and an entry in its
      docstring's `Attributes:` section.
    choices: field name -> the values a string field may take (an enum
      flag).
    flag_values: where to define them.
    prefix: put before each field's name to make its flag's, for a
      configuration whose fields share names with another's.
  """
  choices = choices or {}
  helps = field_help(cls)
  hints = typing.get_type_hints(cls)
  for field in dataclasses.fields(cls):
    name, default = field.name, field.default
    if name not in helps:
      raise ValueError(f"{cls.__name__}.{name} has no entry in the "
                       f"docstring's Attributes: section.")
    base, _, _ = _kind(hints[name])
    common = dict(name=prefix + name, help=helps[name],
                  flag_values=flag_values)
    if base is tuple:
      flags.DEFINE_list(default=None if default is None else [
          str(value) for value in default], **common)
    elif base is bool:
      flags.DEFINE_bool(default=default, **common)
    elif base is int:
      flags.DEFINE_integer(default=default, **common)
    elif base is float:
      flags.DEFINE_float(default=default, **common)
    elif name in choices:
      flags.DEFINE_enum(default=default, enum_values=list(choices[name]),
                        **common)
    else:
      flags.DEFINE_string(default=default, **common)


def given_flags(cls: type, flag_values: flags.FlagValues = flags.FLAGS,
                prefix: str = "") -> list[str]:
  """The flags of `cls`'s fields that the command line set."""
  return [prefix + field.name for field in dataclasses.fields(cls)
          if flag_values[prefix + field.name].present]


def from_flags(cls: type, flag_values: flags.FlagValues = flags.FLAGS,
               prefix: str = "", **overrides: Any):
  """The dataclass `cls` built from the flags `define_flags` made (with
  `prefix`).

  Raises:
    ValueError: a list flag holds a value of the wrong type, or `cls`
      refuses the values (its own checks).
  """
  hints = typing.get_type_hints(cls)
  values = {}
  for field in dataclasses.fields(cls):
    value = flag_values[prefix + field.name].value
    base, _, element = _kind(hints[field.name])
    if base is tuple and value is not None:
      try:
        value = tuple(element(item) for item in value)
      except ValueError:
        raise ValueError(f"--{prefix}{field.name} takes "
                         f"{element.__name__}s, got {','.join(value)}."
                         ) from None
    values[field.name] = value
  values.update(overrides)
  return cls(**values)
