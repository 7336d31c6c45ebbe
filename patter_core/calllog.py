"""The call log: one JSON line per finished call, appended so a crash never loses earlier calls.

Files are ``calls-YYYY-MM-DD.jsonl`` (UTC day) under ``./patter-calls/`` or
``$PATTER_CALL_LOG_DIR``. Each record is written with a single ``write`` on a file opened
with ``O_APPEND`` and then fsynced; readers skip a torn line instead of failing.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from .convert import unstructure

if TYPE_CHECKING:
    from .metrics import CallMetrics
    from .pricing import CostBreakdown
    from .records import CallResult

log = logging.getLogger("patter.calllog")

ENV_DIR = "PATTER_CALL_LOG_DIR"
DEFAULT_DIR = "patter-calls"
RECORD_VERSION = 1
_PREFIX, _SUFFIX = "calls-", ".jsonl"


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # exact: a float would turn 0.0017 into 0.0016999...
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if attrs.has(type(value)):
        return unstructure(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to the call log")


class CallLog:
    """Appends finished calls to daily JSON-lines files and reads them back, newest first."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        if directory is None:
            directory = os.environ.get(ENV_DIR) or DEFAULT_DIR
        self.directory = Path(directory)

    def __repr__(self) -> str:
        return f"CallLog({str(self.directory)!r})"

    def path_for(self, at: dt.datetime) -> Path:
        """The file a record logged at ``at`` goes to (its UTC day)."""
        day = at.astimezone(dt.UTC).date() if at.tzinfo else at.date()
        return self.directory / f"{_PREFIX}{day.isoformat()}{_SUFFIX}"

    def append(self, record: Mapping[str, Any], *, at: dt.datetime | None = None) -> Path:
        """Write ``record`` (which must have a ``call_id``) as one line; returns the file."""
        if not isinstance(record.get("call_id"), str) or not record["call_id"]:
            raise ValueError("a call log record needs a non-empty 'call_id'")
        at = at or dt.datetime.now(dt.UTC)
        data = {"logged_at": at.isoformat(), **record}
        # The whole line is built before the file is touched: one write, nothing half-made.
        line = json.dumps(data, default=_json_default, ensure_ascii=False, separators=(",", ":"))
        payload = (line + "\n").encode("utf-8")
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.path_for(at)
        created = not path.exists()
        # Transcripts and phone numbers are personal data: the file is readable by us only.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            # Other writers (threads, server workers) wait here: the torn-line check below
            # must not see a line that another write is still growing.
            _lock(fd)
            size = os.fstat(fd).st_size
            if size and _last_byte(path, size) != b"\n":
                # A writer died mid-line: start on a fresh line so this record stays whole.
                payload = b"\n" + payload
            written = os.write(fd, payload)
            if written != len(payload):  # pragma: no cover - disk full or a signal
                raise OSError(f"short write to {path}: {written} of {len(payload)} bytes")
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            _fsync_dir(self.directory)
        return path

    def files(self) -> list[Path]:
        """The log's files, newest day first."""
        if not self.directory.is_dir():
            return []
        found = self.directory.glob(f"{_PREFIX}*{_SUFFIX}")
        return sorted((p for p in found if p.is_file()), reverse=True)

    def records(self) -> Iterator[dict[str, Any]]:
        """Every readable record, newest first; unreadable lines are skipped with a warning."""
        for path in self.files():
            yield from reversed(list(_read(path)))

    def recent(self, n: int = 20) -> list[dict[str, Any]]:
        """The ``n`` most recently logged calls, newest first."""
        out: list[dict[str, Any]] = []
        for record in self.records():
            if len(out) >= n:
                break
            out.append(record)
        return out

    def get(self, call_id: str) -> dict[str, Any] | None:
        """The latest record of ``call_id``, or None."""
        return next((r for r in self.records() if r.get("call_id") == call_id), None)

    def find(self, prefix: str) -> list[dict[str, Any]]:
        """The latest record of each call whose id starts with ``prefix`` (newest first)."""
        seen: dict[str, dict[str, Any]] = {}
        for record in self.records():
            call_id = str(record.get("call_id", ""))
            if call_id.startswith(prefix) and call_id not in seen:
                seen[call_id] = record
        return list(seen.values())


def _lock(fd: int) -> None:
    """Hold an exclusive advisory lock on ``fd`` until it is closed (POSIX only)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: appends stay atomic, only unlocked
        return
    fcntl.flock(fd, fcntl.LOCK_EX)


def _last_byte(path: Path, size: int) -> bytes:
    with path.open("rb") as f:
        f.seek(size - 1)
        return f.read(1)


def _fsync_dir(directory: Path) -> None:
    """Persist a new file's directory entry, so the file survives a power loss too."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _read(path: Path) -> Iterator[dict[str, Any]]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        log.warning("cannot read call log %s: %s", path, exc)
        return
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            log.warning(
                "skipping an unreadable line (%d) in %s: a write was cut short", number, path
            )
            continue
        if isinstance(record, dict) and isinstance(record.get("call_id"), str):
            yield record
        else:
            log.warning("skipping line %d of %s: not a call record", number, path)


def call_record(
    result: CallResult, metrics: CallMetrics | None = None, **extra: Any
) -> dict[str, Any]:
    """The call log's record of a finished call: metadata, transcript, cost and metrics."""
    call = result.call
    started = dt.datetime.fromtimestamp(result.started_at, dt.UTC)
    record: dict[str, Any] = {
        "version": RECORD_VERSION,
        "call_id": call.call_id if call else result.stream_id,
        "stream_id": result.stream_id,
        "started_at": started.isoformat(),
        "ended_at": (started + dt.timedelta(seconds=result.duration_s)).isoformat(),
        "duration_s": round(result.duration_s, 3),
        "direction": call.direction if call else "",
        "caller": call.caller if call else "",
        "callee": call.callee if call else "",
        "end_reason": result.end_reason,
        "transcript": [
            {"role": e.role, "text": e.text, "interrupted": e.interrupted}
            for e in result.transcript
            if e.final
        ],
        "usage": unstructure(result.usage),
        "transcription_seconds": result.transcription_seconds,
        "cost": _cost(metrics.cost if metrics is not None else result.cost),
        "metrics": None,
    }
    if metrics is not None:
        record["metrics"] = {**unstructure(metrics), "cost": _cost(metrics.cost)}
    record.update(extra)
    return record


def _cost(cost: CostBreakdown | None) -> dict[str, Any] | None:
    # `total` is derived (init=False), so the converter leaves it out; the log keeps it.
    return None if cost is None else {**unstructure(cost), "total": str(cost.total)}
