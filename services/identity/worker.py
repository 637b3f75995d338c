"""The identity batch worker in a process of its own: `slds identity worker`.

`slds serve` starts one beside the identity service when the database is PostgreSQL, so the
worker's CPU-bound chunks run on another core instead of stalling that process's requests (the
202s of further batches and the polls). It wakes at each submitted batch's NOTIFY and resumes
pending batches when it starts. With `SLDS_BATCH_WORKERS` over 1, `slds serve` starts that many,
each with `--partition I/N`: its share of the rows by birth year (batch.py, `Partition`).
Started by `slds serve` (`--with-parent`), it ends with it: when the server dies, even by SIGKILL,
the pipe on its standard input closes; a chunk cut short is rolled back and done again, as after
any crash."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import sys
import threading

from services.identity.batch import BatchProcessor, Partition
from shared.settings import Settings
from shared.state import Database


async def work(settings: Settings, partition: Partition | None = None) -> None:
    db = Database.from_settings(settings)
    try:
        await BatchProcessor(db, settings, partition=partition).run_forever()
    finally:
        await db.engine.dispose()


# Young collections every 50,000 allocations instead of 700. A chunk makes a few hundred
# thousand short-lived objects (candidates, keys, rows) that died in the middle generations or
# were promoted and set off full collections over the matching caches (a million objects at
# scale): 18% of the worker's time at 1,000,000 persons, about 3% after (bench/identity_scale.py).
# Nearly all of it is freed by reference counting; the collector only looks for cycles.
BATCH_GC_THRESHOLD = (50_000, 20, 20)


def tune_collector() -> None:
    gc.set_threshold(*BATCH_GC_THRESHOLD)


def exit_with_parent() -> None:
    """End this process when standard input (the parent's pipe) closes."""

    def wait() -> None:
        with contextlib.suppress(OSError):
            while sys.stdin.buffer.read(1024):
                pass
        os._exit(0)  # no clean-up to wait for: an open transaction is rolled back by PostgreSQL

    threading.Thread(target=wait, name="parent-watch", daemon=True).start()


def main(settings: Settings, *, with_parent: bool = False, partition: Partition | None = None) -> int:
    if with_parent:
        exit_with_parent()
    tune_collector()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(work(settings, partition))
    return 0
