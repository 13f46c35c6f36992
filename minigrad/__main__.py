"""``python -m minigrad ...``: see :mod:`minigrad.cli`."""
import sys

from .cli import main

sys.exit(main())
