"""Bulk requests defer young collections while any of them runs, and the last one out restores
the worker's threshold, whatever happens inside (shared/collector.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from shared.collector import BULK_FIRST_GENERATION, young_collections_deferred


@pytest.fixture
def threshold() -> Iterator[tuple[int, int, int]]:
    before = gc.get_threshold()
    gc.set_threshold(20_000, before[1], before[2])
    yield gc.get_threshold()
    gc.set_threshold(*before)


def test_overlapping_bulk_requests_keep_the_threshold_raised_until_the_last_ends(threshold) -> None:
    first, second = young_collections_deferred(), young_collections_deferred()
    first.__enter__()
    assert gc.get_threshold() == (BULK_FIRST_GENERATION, *threshold[1:])
    second.__enter__()
    first.__exit__(None, None, None)  # requests of one event loop end in any order
    assert gc.get_threshold()[0] == BULK_FIRST_GENERATION
    second.__exit__(None, None, None)
    assert gc.get_threshold() == threshold


def test_a_failed_bulk_request_restores_the_threshold(threshold) -> None:
    with pytest.raises(RuntimeError), young_collections_deferred():
        raise RuntimeError("the write failed")
    assert gc.get_threshold() == threshold


def test_a_higher_threshold_is_never_lowered(threshold) -> None:
    gc.set_threshold(BULK_FIRST_GENERATION * 2, *threshold[1:])
    with young_collections_deferred():
        assert gc.get_threshold()[0] == BULK_FIRST_GENERATION * 2
    assert gc.get_threshold()[0] == BULK_FIRST_GENERATION * 2
