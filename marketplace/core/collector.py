"""Python's cyclic garbage collector, set for a long-running web worker.

A web worker's heap is mostly what lives as long as the worker: the app, its templates, the
territory registry, the search index's readers, the pages' caches (≈ 380 000 objects the collector
tracks after a few hundred requests at production volume). With the collector's defaults each full
collection walks all of them: ≈ 270 ms of CPU, and the request that triggers one waits for it
(a page's p95 at 330 ms when its p50 is 12 ms); young and middle collections walk the caches that
the requests fill. In all ≈ 2 ms of a 13 ms request went to the collector (``bench/pages.py``).

So each worker, once its app is built (``settle``):

- freezes what it holds (``gc.freeze``: the collector no longer walks those objects; reference
  counting still frees them when nothing points to them);
- collects young objects every ``YOUNG`` allocations instead of 700, and leaves full collections
  to the refresh below (their automatic threshold set far away);

and between two requests (``Collector.after_request``), every ``REFRESH_REQUESTS`` requests or
``REFRESH_SECONDS``, whichever comes first, refreshes: unfreeze, one full collection (cycles that
became garbage after they were frozen are freed there), freeze again. Memory stays bounded, and
the pause falls between requests rather than inside one.
"""
from __future__ import annotations

import gc
import time

YOUNG = 10_000
MIDDLE = 20
# Automatic full collections only when the refresh has not run for very long.
OLD = 1_000
REFRESH_REQUESTS = 5_000
REFRESH_SECONDS = 600.0


def refresh() -> None:
    """One full collection over everything, then freeze the survivors."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def settle() -> None:
    """Freeze what the worker holds now and set the thresholds (once the app is built)."""
    refresh()
    gc.set_threshold(YOUNG, MIDDLE, OLD)


class Collector:
    """Counts a worker's requests and refreshes the frozen heap between two of them."""

    def __init__(self, every_requests: int = REFRESH_REQUESTS, every_seconds: float = REFRESH_SECONDS,
                 clock=time.monotonic):
        self.every_requests = every_requests
        self.every_seconds = every_seconds
        self.clock = clock
        self.requests = 0
        self.refreshed_at = clock()
        self.refreshes = 0

    def after_request(self) -> bool:
        """Call after each response is sent; True when it refreshed."""
        self.requests += 1
        if self.requests < self.every_requests and self.clock() - self.refreshed_at < self.every_seconds:
            return False
        refresh()
        self.requests, self.refreshed_at = 0, self.clock()
        self.refreshes += 1
        return True
