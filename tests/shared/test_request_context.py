"""`shared.request_context`: minted request ids are 32 hex digits and never repeat across
processes, a forked worker included."""

from __future__ import annotations

import multiprocessing
import re

import pytest

from shared.request_context import accept_request_id


def _mint_in_child(queue) -> None:
    queue.put(accept_request_id(None))


def test_a_well_formed_incoming_id_is_kept_and_anything_else_replaced() -> None:
    assert accept_request_id("trace-abc-12345") == "trace-abc-12345"
    for bad in (None, "", "short", "with spaces in it", "x" * 65):
        assert re.fullmatch(r"[0-9a-f]{32}", accept_request_id(bad))


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_a_forked_process_mints_other_ids_than_its_parent() -> None:
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_mint_in_child, args=(queue,))
    child.start()
    from_child = queue.get(timeout=30)
    child.join(timeout=30)
    # Without reseeding in the child, both would draw the same next number from one state.
    assert from_child != accept_request_id(None)
