"""Built-in network families. Importing this package registers them (one module per family)."""

from chromatize.models import baseline, pix2pix  # noqa: F401
