"""What the experiment binaries share: failing with one clear line, and
running one another."""

import subprocess
import sys
from typing import NoReturn


def fail(message: object) -> NoReturn:
  """Prints `error: message` to stderr and exits with status 1.

  For problems of the user's making (a wrong flag, a missing file), where a
  traceback would hide the one line that matters.
  """
  print(f"error: {message}", file=sys.stderr, flush=True)
  sys.exit(1)


def run_binary(path: str, *flags: str, on_failure: str) -> None:
  """Runs the Python binary at `path` with this interpreter, its output
  passed through; `fail(on_failure)` if it exits with an error."""
  command = [sys.executable, path, *flags]
  if subprocess.run(command, check=False).returncode:
    fail(f"{' '.join(command)} failed; {on_failure}")
