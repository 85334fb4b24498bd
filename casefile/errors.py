"""The root of casefile's own errors: the CLI prints their message as one line, no traceback."""
from __future__ import annotations


class CasefileError(Exception):
    """An error a user can act on; `exit_code` is what the CLI exits with."""

    exit_code = 1
