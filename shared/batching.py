"""`Coalescer`: many concurrent requests' small database calls made as one.

Under load a worker holds dozens of requests that each want the same small statement (a read's
context, a read's log entry). Made one by one, every call pays its own round trip, driver work
and statement start-up in PostgreSQL, which cost more than the rows themselves. A coalescer runs
one batch call at a time: whatever is handed over while it runs goes into the next call, so an
idle server answers as before (a batch of one, no added wait) and a busy one shares each call
among the requests that queued behind it. The same idea as a group commit.

Coalescers given one `turns` lock take turns: one batch call at a time among them, each taking
its batch when its turn comes. The read path's two (the context fetch, then the log append) used
to run their calls side by side and split a worker's reads in flight between them; taking turns,
each call carries the reads that gathered during the other's, about twice as many (records read
bench: ~13 and ~15 reads per call on the busier worker against ~7.5 and ~9), so a read costs
half the round trips.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class Coalescer(Generic[Item, Result]):
    """`await submit(item)` answers `run(batch)[i]` for the item's place `i` in its batch; if the
    batch call raises, every caller of that batch gets the error. `max_batch` bounds a call (the
    rest waits for the next). A caller cancelled while waiting leaves the batch going for others.
    `turns`: a lock shared with other coalescers, held for each batch call (see the module)."""

    def __init__(self, run: Callable[[list[Item]], Awaitable[Sequence[Result]]], *, max_batch: int = 100,
                 turns: asyncio.Lock | None = None) -> None:
        self._run = run
        self.max_batch = max_batch
        self.turns = turns
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def submit(self, item: Item) -> Result:
        loop = self._loop
        if loop is None or not loop.is_running():
            # Looked up once per loop, not per call: on Python 3.11 `get_running_loop` makes a
            # `getpid` system call each time. A coalescer serves one app on one thread; a later
            # loop there (tests run one per test) finds the earlier one stopped.
            loop = self._loop = asyncio.get_running_loop()
        done: asyncio.Future[Result] = loop.create_future()
        self._pending.append((item, done))
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run_while_pending())
        return await done

    async def _run_while_pending(self) -> None:
        while self._pending:
            if self.turns is None:
                await self._run_next_batch()
            else:
                async with self.turns:  # the batch is taken once the turn comes: it holds all that waited
                    await self._run_next_batch()

    async def _run_next_batch(self) -> None:
        batch, self._pending = self._pending[:self.max_batch], self._pending[self.max_batch:]
        try:
            results = await self._run([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} gave {len(results)} results")
        except Exception as error:  # noqa: BLE001 - handed to every waiter, which fails its request
            for _, done in batch:
                if not done.done():
                    done.set_exception(error)
        else:
            for (_, done), result in zip(batch, results, strict=True):
                if not done.done():
                    done.set_result(result)
