"""The apps `slds serve` hands to uvicorn, one factory per thing it serves.

With `--workers N` uvicorn spawns each worker as a fresh interpreter that imports the app by name,
so whatever `slds serve` configured in its own process is not there. Each factory therefore sets up
the JSON logs first: without them a worker would log nothing at INFO, and the shared handlers that
keep raw paths (student IDs) out of the logs would be missing.
"""

from __future__ import annotations

from fastapi import FastAPI

from services.gateway import APP_FACTORIES, Gateway, create_gateway
from shared.logging import configure_logging
from shared.settings import get_settings


def _logged() -> None:
    configure_logging(get_settings().log_level)


def gateway() -> Gateway:
    _logged()
    return create_gateway()


def identity() -> FastAPI:
    _logged()
    return APP_FACTORIES["identity"]()


def records() -> FastAPI:
    _logged()
    return APP_FACTORIES["records"]()


def disclosure() -> FastAPI:
    _logged()
    return APP_FACTORIES["disclosure"]()


def reporting() -> FastAPI:
    _logged()
    return APP_FACTORIES["reporting"]()
