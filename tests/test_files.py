"""Tests of air_tf.files: whole files or none, and cut-off JSON lines."""

import json
import os

import pytest

from air_tf import files


@pytest.mark.parametrize("contents", ["text\n", b"\x89PNG bytes"])
def test_write_atomically_replaces_the_file_whole(tmp_path, contents):
  path = str(tmp_path / "file")
  files.write_atomically(path, "old")
  files.write_atomically(path, contents)
  mode = "rb" if isinstance(contents, bytes) else "r"
  with open(path, mode) as f:
    assert f.read() == contents
  assert os.listdir(tmp_path) == ["file"]


def test_write_json_round_trips(tmp_path):
  path = str(tmp_path / "value.json")
  files.write_json(path, {"a": [1, 2.5], "b": None})
  with open(path) as f:
    assert json.load(f) == {"a": [1, 2.5], "b": None}


def test_json_lines_come_back_in_order_without_a_cut_off_tail(tmp_path):
  path = str(tmp_path / "records.jsonl")
  assert files.read_json_lines(path) == []
  for step in (1, 2):
    files.append_json_line(path, {"step": step})
  with open(path, "a") as f:
    f.write('{"step": 3, "acc')  # A crash in the middle of an append.
  assert files.read_json_lines(path) == [{"step": 1}, {"step": 2}]


def test_a_corrupt_line_before_the_last_is_an_error(tmp_path):
  path = tmp_path / "records.jsonl"
  path.write_text('{"step": 1}\nnot json\n{"step": 3}\n')
  with pytest.raises(ValueError, match="line 2, is not JSON"):
    files.read_json_lines(str(path))
