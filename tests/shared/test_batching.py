"""`shared.batching.Coalescer`: calls that arrive while a batch runs go together into the next;
every caller gets its own result, or its batch's error."""

from __future__ import annotations

import asyncio

import pytest

from shared.batching import Coalescer


class Recorder:
    """A batch call that records its batches and can be held open."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()
        self.release.set()
        self.fail_on: set[int] = set()

    async def run(self, items: list[int]) -> list[str]:
        self.batches.append(list(items))
        await self.release.wait()
        if self.fail_on & set(items):
            raise ValueError("batch refused")
        return [f"r{i}" for i in items]


async def test_a_lone_call_runs_at_once_as_a_batch_of_one() -> None:
    recorder = Recorder()
    coalescer = Coalescer(recorder.run)
    assert await coalescer.submit(1) == "r1"
    assert await coalescer.submit(2) == "r2"
    assert recorder.batches == [[1], [2]]


async def test_calls_arriving_while_a_batch_runs_share_the_next_and_get_their_own_results() -> None:
    recorder = Recorder()
    recorder.release.clear()
    coalescer = Coalescer(recorder.run)
    first = asyncio.create_task(coalescer.submit(1))
    await asyncio.sleep(0)  # the first batch starts and is held
    rest = [asyncio.create_task(coalescer.submit(i)) for i in range(2, 7)]
    await asyncio.sleep(0)
    recorder.release.set()
    assert await first == "r1"
    assert await asyncio.gather(*rest) == ["r2", "r3", "r4", "r5", "r6"]
    assert recorder.batches == [[1], [2, 3, 4, 5, 6]]


async def test_max_batch_bounds_a_call() -> None:
    recorder = Recorder()
    recorder.release.clear()
    coalescer = Coalescer(recorder.run, max_batch=2)
    tasks = [asyncio.create_task(coalescer.submit(i)) for i in range(5)]
    await asyncio.sleep(0)
    recorder.release.set()
    assert await asyncio.gather(*tasks) == ["r0", "r1", "r2", "r3", "r4"]
    assert recorder.batches == [[0, 1], [2, 3], [4]]


async def test_a_failed_batch_fails_its_callers_only_and_the_next_batch_still_runs() -> None:
    recorder = Recorder()
    recorder.release.clear()
    recorder.fail_on = {1}
    coalescer = Coalescer(recorder.run, max_batch=2)
    tasks = [asyncio.create_task(coalescer.submit(i)) for i in range(4)]
    await asyncio.sleep(0)
    recorder.release.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert [type(r) for r in results[:2]] == [ValueError, ValueError]
    assert results[2:] == ["r2", "r3"]
    assert await coalescer.submit(9) == "r9"  # and it keeps working


async def test_a_cancelled_caller_leaves_the_others_their_answers() -> None:
    recorder = Recorder()
    recorder.release.clear()
    coalescer = Coalescer(recorder.run)
    tasks = [asyncio.create_task(coalescer.submit(i)) for i in range(3)]
    await asyncio.sleep(0)
    tasks[1].cancel()
    recorder.release.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert results[0] == "r0" and isinstance(results[1], asyncio.CancelledError) and results[2] == "r2"


async def test_a_batch_call_giving_the_wrong_number_of_results_fails_its_callers() -> None:
    async def short(items: list[int]) -> list[int]:
        return items[:-1]

    coalescer = Coalescer(short)
    with pytest.raises(RuntimeError, match="gave"):
        await coalescer.submit(1)


def test_a_coalescer_serves_one_event_loop_after_another() -> None:
    """It keeps its loop between calls (a system call saved per call); a later loop, as each test
    or a restarted worker runs, must still get answers bound to itself."""
    recorder = Recorder()
    coalescer = Coalescer(recorder.run)

    async def two_calls() -> list[str]:
        return list(await asyncio.gather(coalescer.submit(1), coalescer.submit(2)))

    assert asyncio.run(two_calls()) == ["r1", "r2"]
    assert asyncio.run(two_calls()) == ["r1", "r2"]  # a new loop: futures of the old one would fail here
    assert recorder.batches == [[1, 2], [1, 2]]


async def test_coalescers_sharing_turns_never_call_at_once_and_gather_what_waited() -> None:
    """While one holds the turn, the other's callers wait and then go together in one call (the
    read path's context fetch and log append: bigger batches, fewer round trips per read)."""
    turns = asyncio.Lock()
    first, second = Recorder(), Recorder()
    running: list[str] = []
    overlaps: list[bool] = []

    def tracked(name: str, recorder: Recorder):
        async def run(items: list[int]) -> list[str]:
            overlaps.append(bool(running))
            running.append(name)
            try:
                return await recorder.run(items)
            finally:
                running.remove(name)
        return run

    fetch = Coalescer(tracked("fetch", first), turns=turns)
    append = Coalescer(tracked("append", second), turns=turns)
    first.release.clear()
    held = asyncio.create_task(fetch.submit(1))
    await asyncio.sleep(0)
    await asyncio.sleep(0)  # the fetch's call has started and holds the turn
    waiting = [asyncio.create_task(append.submit(i)) for i in (10, 11, 12)]
    await asyncio.sleep(0.01)
    assert second.batches == []  # no call while the other holds the turn
    first.release.set()
    assert await held == "r1"
    assert await asyncio.gather(*waiting) == ["r10", "r11", "r12"]
    assert second.batches == [[10, 11, 12]] and not any(overlaps)


async def test_without_turns_the_second_caller_does_not_wait_for_the_first() -> None:
    first, second = Recorder(), Recorder()
    fetch, append = Coalescer(first.run), Coalescer(second.run)
    first.release.clear()
    held = asyncio.create_task(fetch.submit(1))
    await asyncio.sleep(0)
    assert await append.submit(10) == "r10"  # answered while the fetch still runs
    first.release.set()
    assert await held == "r1"
