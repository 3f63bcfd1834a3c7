"""What the experiment binaries share: failing with one clear line, and
running one another."""

import os
import subprocess
import sys
from typing import Mapping, NoReturn, Optional


def fail(message: object) -> NoReturn:
  """Prints `error: message` to stderr and exits with status 1.

  For problems of the user's making (a wrong flag, a missing file), where a
  traceback would hide the one line that matters.
  """
  print(f"error: {message}", file=sys.stderr, flush=True)
  sys.exit(1)


def run_binary(path: str, *flags: str, on_failure: str,
               environment: Optional[Mapping[str, str]] = None) -> None:
  """Runs the Python binary at `path` with this interpreter, its output
  passed through; `fail(on_failure)` if it exits with an error.

  `environment`: variables set for it on top of this process's.
  """
  command = [sys.executable, path, *flags]
  if subprocess.run(command, env={**os.environ, **(environment or {})},
                    check=False).returncode:
    fail(f"{' '.join(command)} failed; {on_failure}")
