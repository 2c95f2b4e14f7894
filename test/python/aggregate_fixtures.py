"""Helpers of the aggregate_clicks tests: raw records as the ingest function writes them, raw
objects on a local folder or on the local S3 server, and the job's output read back.

Deliberately no import of the job's transforms here: the reference implementation in
test_aggregate_independent.py must not share code with what it checks.
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import json
import sys
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT_PATH = REPO_ROOT / "glue-scripts" / "aggregate_clicks.py"


def load_job_module():
    """The Glue script as a module (it lives outside any package)."""
    name = "aggregate_clicks"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SCRIPT_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def event(
    event_id: str,
    user_id: Optional[str],
    ts: Optional[str],
    page_url: Optional[str] = "https://shop.example.com/home",
    country: Optional[str] = "US",
    offset: int = 0,
    partition: int = 0,
    **extra: Any,
) -> Dict[str, Any]:
    """A canonical raw record (SPEC section 2)."""
    record = {
        "event_id": event_id,
        "user_id": user_id,
        "session_id": None,
        "ts": ts,
        "url": page_url,
        "page_url": page_url,
        "country": country,
        "city": None,
        "user_agent": "Mozilla/5.0 (test)",
        "referrer": None,
        "kafka": {"topic": "clickstream", "partition": partition, "offset": offset, "timestamp": ts},
    }
    record.update(extra)
    return record


def ndjson_gzip(records: Iterable[Any]) -> bytes:
    """Records (dicts, or strings written as they are, for malformed lines) as gzip NDJSON."""
    text = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)
    buffer = io.BytesIO()
    # mtime=0: the same records give the same bytes.
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as out:
        out.write(text.encode("utf-8"))
    return buffer.getvalue()


def raw_key(date: str, hour: int, name: str) -> str:
    return f"dt={date}/hr={hour:02d}/{name}.ndjson.gz"


class LocalRawZone:
    """A raw zone in a local folder (file:// URIs)."""

    def __init__(self, root: Path):
        self.root = root
        self.raw = root / "raw" / "events"
        self.output = root / "aggregates" / "url_country_daily"
        self.state = root / "state" / "url_country_daily"

    def put(self, date: str, hour: int, name: str, records: Iterable[Any]) -> Path:
        path = self.raw / raw_key(date, hour, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(ndjson_gzip(records))
        return path

    def config(self, job, **overrides):
        values = dict(raw_uri=self.raw.as_uri(), output_uri=self.output.as_uri(), state_uri=self.state.as_uri())
        values.update(overrides)
        return job.JobConfig(**values)

    def output_files(self) -> Dict[str, List[Path]]:
        """event_date -> data files (Hadoop's local .crc side files left out)."""
        result: Dict[str, List[Path]] = {}
        if not self.output.exists():
            return result
        for folder in sorted(self.output.iterdir()):
            files = sorted(p for p in folder.iterdir() if not p.name.startswith((".", "_")))
            result[folder.name.split("=", 1)[1]] = files
        return result

    def output_rows(self) -> List[Dict[str, Any]]:
        rows: List[Dict[str, Any]] = []
        for files in self.output_files().values():
            for path in files:
                rows.extend(json.loads(line) for line in path.read_text().splitlines() if line.strip())
        return rows

    def state_document(self) -> Optional[Dict[str, Any]]:
        path = self.state / "state.json"
        return json.loads(path.read_text()) if path.exists() else None


def rows_by_key(rows: Iterable[Dict[str, Any]]) -> Dict[tuple, Dict[str, Any]]:
    result = {}
    for row in rows:
        key = (row["event_date"], row["page_url"], row["country"])
        assert key not in result, f"two output rows for {key}"
        result[key] = row
    return result


def without_computed_at(rows: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return sorted(
        ({k: v for k, v in row.items() if k != "computed_at"} for row in rows),
        key=lambda r: (r["event_date"], r["page_url"], r["country"]),
    )
