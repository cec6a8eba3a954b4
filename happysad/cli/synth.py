"""``happysad synth``: a procedurally drawn happy/sad faces dataset, made offline."""

from pathlib import Path

import click

from . import main


@main.command(short_help="Draw a happy/sad cartoon-face dataset.")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--per-class", type=int, default=40, show_default=True, metavar="N",
              help="Images per class (1 to 100000).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="The same seed draws byte-identical images.")
@click.option("--size", type=int, default=150, show_default=True, metavar="PIXELS",
              help="Image width and height (16 to 1024).")
def synth(out, per_class, seed, size):
    """Draw a happy/sad faces dataset into OUT: OUT/happy/*.png and OUT/sad/*.png.

    Cartoon faces that smile or frown, with random position, size, colours, eyes,
    mouth width and thickness, a slight rotation and pixel noise; about half are RGBA
    with a transparent background, like the lab's images. Needs no network: train on
    it with 'happysad train --data OUT' (or '--data synth', drawn once in the cache).

    OUT must be new (or an empty folder): nothing is ever overwritten. The images are
    written to a temporary folder next to OUT and renamed into place when complete.
    """
    from ..synth import class_counts, make_synth

    folder = make_synth(out, per_class=per_class, seed=seed, size=size)
    click.echo(f"folder: {folder}")
    for name, count in class_counts(folder).items():
        click.echo(f"{name + ':':<7} {count} images")
