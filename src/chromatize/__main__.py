"""``python -m chromatize`` runs the command line."""

import sys

from chromatize.cli import main

sys.exit(main())
