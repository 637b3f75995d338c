"""The apps `slds serve` hands to uvicorn, one factory per thing it serves.

With `--workers N` uvicorn spawns each worker as a fresh interpreter that imports the app by name,
so whatever `slds serve` configured in its own process is not there. Each factory therefore sets up
the JSON logs first: without them a worker would log nothing at INFO, and the shared handlers that
keep raw paths (student IDs) out of the logs would be missing.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import TypeVar

from fastapi import FastAPI
from starlette.types import ASGIApp

from services.gateway import APP_FACTORIES, Gateway, create_gateway
from shared.app import served_by
from shared.logging import configure_logging
from shared.settings import get_settings

App = TypeVar("App")

# The cyclic garbage collector's first generation runs after this many new container objects
# (Python's default is 700). Reads allocate many that reference counting frees on its own: at 700,
# under the records read bench, a worker collected once per ~12 reads, and one run in a hundred was
# a full collection of ~7 ms; 4% of the worker's time in all (timed with `gc.callbacks`). At 20,000
# it ran under 200 times in the same run against ~2,500; what waits for it meanwhile is at most
# 20,000 objects' worth of cyclic garbage.
GC_FIRST_GENERATION = 20_000


def _served(make: Callable[[], App]) -> App:
    """Set up the JSON logs, build the app, then leave what the process has built so far (modules,
    the app, its routes and policies, all kept for the process's life) out of every later garbage
    collection, and collect the young generation less often (`GC_FIRST_GENERATION`)."""
    configure_logging(get_settings().log_level)
    app = make()
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_FIRST_GENERATION, *gc.get_threshold()[1:])
    return app


def gateway() -> Gateway:
    return _served(create_gateway)


def identity() -> FastAPI:
    return _served(APP_FACTORIES["identity"])


def records() -> ASGIApp:
    return _served(lambda: served_by(APP_FACTORIES["records"]()))


def disclosure() -> FastAPI:
    return _served(APP_FACTORIES["disclosure"])


def reporting() -> FastAPI:
    return _served(APP_FACTORIES["reporting"])
