"""Built-in network families. Importing this package registers them (one module per family)."""

from chromatize.models import autoencoder, baseline, classifier, efficientnet, mobilenet, pix2pix, resnet, unet  # noqa: F401
