"""Keep the instrumentation's own failures out of the app.

Every piece of instrumentation code that runs inside a user's call (reading a
response, handling a stream chunk, ending a span) catches its exceptions and
calls `report_internal_error`: the app's call goes on, and the problem is logged
on the `llmledger.instrumentation` logger — as a warning the first time for a
given place, then at debug level so a bug cannot flood the app's logs.
"""
from __future__ import annotations

import logging

logger = logging.getLogger("llmledger.instrumentation")

_already_warned: set[str] = set()


def report_internal_error(where: str) -> None:
    """Log the exception being handled; call only from inside an `except` block."""
    if where in _already_warned:
        logger.debug("llmledger instrumentation error in %s", where, exc_info=True)
        return
    _already_warned.add(where)
    logger.warning(
        "llmledger instrumentation error in %s (the application call is unaffected; "
        "further errors here are logged at debug level)",
        where,
        exc_info=True,
    )
