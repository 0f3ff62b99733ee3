"""``python -m dae_theory sweep …``: see dae_theory/_src/cli.py."""

import sys

from dae_theory._src.cli import main

sys.exit(main())
