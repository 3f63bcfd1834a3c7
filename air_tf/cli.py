"""What the experiment binaries share: failing with one clear line."""

import sys
from typing import NoReturn


def fail(message: object) -> NoReturn:
  """Prints `error: message` to stderr and exits with status 1.

  For problems of the user's making (a wrong flag, a missing file), where a
  traceback would hide the one line that matters.
  """
  print(f"error: {message}", file=sys.stderr, flush=True)
  sys.exit(1)
