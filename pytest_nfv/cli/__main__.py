"""``python -m pytest_nfv.cli``: the ``pytest-nfv`` command without its script on PATH."""

from __future__ import annotations

import sys

from pytest_nfv.cli.main import main

sys.exit(main())
