"""happysad: train and study small image-classification networks with Keras.

The command line lives in ``happysad.cli``; every command calls a plain function from
one of the modules here, so all of it can be used from Python too.
"""

__version__ = "0.1.0"
