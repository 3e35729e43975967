"""cpa-ops: Redis, logging and Sentry infrastructure for the CPA agent platform."""

import time as _time

__version__ = "0.1.0"

# When the process started (near enough): the CLI's hard deadlines count from here.
STARTED_AT: float = _time.monotonic()
