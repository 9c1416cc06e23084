"""What the import job routes answer: a job with its progress, and a preview of a file."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

ImportKindName = Literal["contacts", "events", "transactions"]


class ImportJob(BaseModel):
    """An import job and its progress."""

    id: int = Field(description="the job's id")
    bot_slug: str = Field(description="the bot whose rows it imports")
    kind: ImportKindName = Field(description="contacts, events (funnel events) or transactions")
    tags_mode: str | None = Field(description="contacts: add or replace; null for the others")
    file_format: Literal["csv", "ndjson"] = Field(description="csv or ndjson (JSON lines)")
    status: Literal["queued", "running", "done", "failed"] = Field(
        description="queued, running, done (stored) or failed (nothing stored; see error)"
    )
    total_bytes: int = Field(description="the file's size")
    read_bytes: int = Field(description="bytes of the file read so far")
    processed: int = Field(description="lines read so far (valid and rejected)")
    valid: int = Field(description="valid rows so far")
    rejected: int = Field(description="rejected lines so far")
    inserted: int | None = Field(description="rows that were new; null until done")
    updated: int | None = Field(description="rows that updated a stored one; null until done")
    rate_per_s: float | None = Field(description="lines processed per second since the start")
    seconds_left: float | None = Field(
        description="estimated seconds until every line is read (from the bytes read so far); "
        "null before the first chunk and once it has ended"
    )
    error: str | None = Field(description="why it failed")
    started_at: datetime | None = Field(description="when it started running")
    finished_at: datetime | None = Field(description="when it ended (done or failed)")
    created_at: datetime = Field(description="when the file was received")


def job_view(row: dict[str, Any], now: datetime) -> ImportJob:
    """The job as the API shows it, with its rate and time left computed at `now`."""
    started, finished = row["started_at"], row["finished_at"]
    rate = left = None
    if started is not None:
        elapsed = max(((finished or now) - started).total_seconds(), 1e-3)
        rate = round(row["processed"] / elapsed, 1)
        read = row["read_bytes"]
        if row["status"] == "running" and read > 0:
            left = round((row["total_bytes"] - read) * elapsed / read, 1)
    return ImportJob(
        **{k: row[k] for k in ImportJob.model_fields if k in row},
        rate_per_s=rate,
        seconds_left=left,
    )


class ImportJobs(BaseModel):
    """The bot's latest import jobs, newest first."""

    jobs: list[ImportJob] = Field(description="newest first")


class PreviewRow(BaseModel):
    """One line of the file's start and what it becomes."""

    line: int = Field(description="its line number in the file (from 1)")
    raw: dict[str, Any] | None = Field(description="its values as read; null if unreadable")
    row: dict[str, Any] | None = Field(description="what is stored from it; null if rejected")
    field: str | None = Field(description="the rejected field, if one")
    reason: str | None = Field(description="why it is rejected; null if it is accepted")


class ImportPreview(BaseModel):
    """The detected format, the columns and the first rows of a file."""

    file_format: Literal["csv", "ndjson"] = Field(description="csv or ndjson (JSON lines)")
    columns: list[str] = Field(description="the CSV header, or the JSON keys of the first rows")
    unknown_columns: list[str] = Field(description="columns the kind of import does not take")
    missing_columns: list[str] = Field(description="required columns the file lacks")
    rows: list[PreviewRow] = Field(description="the first rows, in order")
    error: str | None = Field(description="why the file cannot be imported at all (its header)")
