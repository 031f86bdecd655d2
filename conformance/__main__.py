"""``python -m conformance``: the ``stream-conformance`` command."""

import sys

from conformance.cli import main

sys.exit(main())
