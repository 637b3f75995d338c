"""The cyclic garbage collector around bulk work in a served process.

A bulk write of 1,000 records keeps ~50,000 new container objects alive until it answers (parsed
rows, validated elements, the diff's rows). With the young generation collected every 20,000 new
objects (`services.serving.GC_FIRST_GENERATION`), each request set off two or three young
collections and, every few requests, a middle one, each walking objects that were all still in use:
~6% of a worker's CPU while ingesting (timed with `gc.callbacks`). Reference counting frees those
objects when the request ends, so a threshold above what the requests in flight keep alive lets
almost every collection be skipped, not merely postponed.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# Above what a worker's bulk requests in flight keep alive (two 1,000-record requests: ~110,000
# objects). It also bounds the cyclic garbage that can wait meanwhile (tens of megabytes at worst).
BULK_FIRST_GENERATION = 250_000

_holders = 0  # bulk requests in this process inside `young_collections_deferred`
_restore_to = 0  # the first generation's threshold before the first of them


@contextmanager
def young_collections_deferred(threshold: int = BULK_FIRST_GENERATION) -> Iterator[None]:
    """Raise the young generation's threshold to `threshold` while any caller is inside (the
    requests of one event loop overlap); the last one out puts the threshold back. Never lowers it."""
    global _holders, _restore_to
    if _holders == 0:
        _restore_to = gc.get_threshold()[0]
        if _restore_to < threshold:
            gc.set_threshold(threshold, *gc.get_threshold()[1:])
    _holders += 1
    try:
        yield
    finally:
        _holders -= 1
        if _holders == 0:
            gc.set_threshold(_restore_to, *gc.get_threshold()[1:])
