"""The page: index.html (its scripts and styles are mounted at /static by the app) and what its upload
form offers."""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from squatpose.pose.predictor import default_checkpoint
from squatpose.web.jobs import BUILTIN_MODEL, VIEWS, JobStore
from squatpose.web.runner import Runner

STATIC = Path(__file__).parents[1] / "static"


def router(store: JobStore, runner: Runner, max_bytes: int) -> APIRouter:
    routes = APIRouter()

    @routes.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @routes.get("/api/config", summary="Upload limit, views and models")
    def config() -> dict:
        """What the upload form offers: the size limit, the views and the models (the built-in one
        and the `*.pt` checkpoints in the data folder's `models/`)."""
        return {"max_upload_bytes": max_bytes, "views": list(VIEWS), "default_model": BUILTIN_MODEL,
                "models": [{"name": BUILTIN_MODEL, "available": _builtin_installed()}]
                + [{"name": n, "available": True} for n in store.models()],
                "workers": runner.workers}

    return routes


def _builtin_installed() -> bool:
    try:
        default_checkpoint()
    except FileNotFoundError:
        return False
    return True
