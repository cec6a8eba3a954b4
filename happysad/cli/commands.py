"""The Keras-side commands: download, train, plot, summary, ..."""

import click

from . import main
