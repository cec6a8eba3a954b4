"""``happysad scratch ...``: the from-scratch NumPy network (placeholder until built)."""

import click

from . import main


@main.group()
def scratch() -> None:
    """The lab's from-scratch NumPy network: train, cross-validate, gradient-check."""
