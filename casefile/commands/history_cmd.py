"""`casefile history`."""
from __future__ import annotations

import argparse

from casefile.cli import NotImplementedYet
from casefile.settings import Settings


def run(args: argparse.Namespace, settings: Settings) -> int:
    raise NotImplementedYet("history: not yet implemented")
