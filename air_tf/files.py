"""Writing files so that a crash never leaves half of one."""

import json
import os
from typing import Any, Union

import tensorflow as tf


def write_atomically(path: str, contents: Union[str, bytes]) -> None:
  """Writes `contents` to `path`: readers see the old file or the new one.

  The contents go to `path.partial` first, which is then renamed over
  `path`, so an interrupted write leaves at most a stray `.partial` file.
  Works on any filesystem `tf.io.gfile` knows (local, GCS, ...).
  """
  partial = path + ".partial"
  with tf.io.gfile.GFile(partial, "wb" if isinstance(contents, bytes)
                         else "w") as f:
    f.write(contents)
  tf.io.gfile.rename(partial, path, overwrite=True)


def write_json(path: str, value: Any) -> None:
  """Writes `value` as indented JSON, atomically."""
  write_atomically(path, json.dumps(value, indent=1) + "\n")


def append_json_line(path: str, record: dict[str, Any]) -> None:
  """Appends one JSON line: a single small append, so a crash can cut at
  most the last line, which `read_json_lines` then skips."""
  with open(path, "a") as f:
    f.write(json.dumps(record) + "\n")


def read_json_lines(path: str) -> list[dict[str, Any]]:
  """The records of a file of `append_json_line`; [] if there is none. A
  last line cut short by a crash is left out."""
  if not os.path.exists(path):
    return []
  with open(path) as f:
    lines = [line for line in f.read().split("\n") if line.strip()]
  records = []
  for number, line in enumerate(lines):
    try:
      records.append(json.loads(line))
    except json.JSONDecodeError:
      if number < len(lines) - 1:  # Only a crash's cut-off tail is normal.
        raise ValueError(f"{path}, line {number + 1}, is not JSON: "
                         f"{line[:80]!r}") from None
  return records
