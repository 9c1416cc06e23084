"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from disparo.db.engine import Database
from disparo.db.schema_version import schema_is_current

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    """Answers as long as the process runs; touches nothing else."""
    return {"status": "ok"}


@router.get("/readyz", summary="The database is reachable and migrated")
async def readyz(request: Request) -> JSONResponse:
    """503 with the reason while the database is unreachable or not migrated."""
    db: Database = request.app.state.db
    try:
        current = await schema_is_current(db)
    except Exception:  # any failure to reach the database means "not ready"
        return JSONResponse(
            {"status": "unavailable", "reason": "the database cannot be reached"}, status_code=503
        )
    if not current:
        return JSONResponse(
            {
                "status": "unavailable",
                "reason": "the database is not migrated; run disparo migrate",
            },
            status_code=503,
        )
    return JSONResponse({"status": "ready"})
