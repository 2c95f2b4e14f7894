"""Builders of the clickstream job's tests: raw records as the ingest function writes them, raw
objects on a local folder, raw frames for the transforms, and the job's output read back.

Deliberately no import of the job's transforms here: the reference implementation in
test_aggregate_independent.py must not share code with what it checks.
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT_PATH = REPO_ROOT / "glue-scripts" / "aggregate_clicks.py"
TABLE_NAMES = ("url_country_daily", "sessions_daily", "traffic_sources_daily", "geo_daily", "traffic_hourly")
COMPUTED_AT = "2026-11-03T04:05:06.789Z"
HOME = "https://shop.example.com/home"
CART = "https://shop.example.com/cart"

# Explicit enrichment of a desktop Chrome visit from a search engine; tests override what they need.
HUMAN = {
    "device_type": "desktop",
    "browser": "Chrome",
    "os": "Windows",
    "is_bot": False,
    "utm_source": None,
    "utm_medium": None,
    "utm_campaign": None,
    "referrer_host": "google.com",
    "channel": "search",
}
BOT = {**HUMAN, "device_type": "bot", "browser": None, "os": None, "is_bot": True, "referrer_host": None, "channel": "direct"}


def event(
    event_id: str,
    user_id: Optional[str],
    ts: Optional[str],
    page_url: Optional[str] = HOME,
    country: Optional[str] = "US",
    offset: int = 0,
    partition: int = 0,
    city: Optional[str] = "Austin",
    **extra: Any,
) -> Dict[str, Any]:
    """A canonical raw record (SPEC section 2) with explicit enrichment (`HUMAN` unless overridden)."""
    record = {
        "event_id": event_id,
        "user_id": user_id,
        "session_id": None,
        "ts": ts,
        "url": page_url,
        "page_url": page_url,
        "country": country,
        "country_raw": None,
        "city": city,
        "user_agent": "Mozilla/5.0 (test)",
        "referrer": "https://www.google.com/",
        **HUMAN,
        "kafka": {"topic": "clickstream", "partition": partition, "offset": offset, "timestamp": ts},
    }
    record.update(extra)
    return record


def bot_event(event_id: str, user_id: str, ts: str, page_url: str = HOME, country: str = "US", **extra: Any) -> Dict[str, Any]:
    return event(event_id, user_id, ts, page_url, country, **{**BOT, **extra})


def legacy_event(event_id: str, user_id: str, ts: str, page_url: str = HOME, country: str = "US", **extra: Any) -> Dict[str, Any]:
    """A record written before enrichment existed: none of its fields."""
    record = event(event_id, user_id, ts, page_url, country, **extra)
    for name in ("country_raw", *HUMAN):
        record.pop(name, None)
    return record


def raw_frame(spark, records: Iterable[Any]):
    """Records as the job's reader sees them: the raw schema, PERMISSIVE, the corrupt-record column
    set for malformed lines (from_json on a local table: no Python workers)."""
    from pyspark.sql import functions as F

    from clickstream_job.schema import RAW_EVENT_SCHEMA

    lines = [(r if isinstance(r, str) else json.dumps(r),) for r in records]
    options = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": "_corrupt_record"}
    return spark.createDataFrame(lines, "value string").select(F.from_json("value", RAW_EVENT_SCHEMA, options).alias("record")).select("record.*")


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


def read_ndjson(text: str) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


class LocalRawZone:
    """A raw zone, its aggregates and the job state in a local folder (file:// URIs)."""

    def __init__(self, root: Path):
        self.root = root
        self.raw = root / "raw" / "events"
        self.output = root / "aggregates"
        self.state = root / "state" / "aggregates"

    def put(self, date: str, hour: int, name: str, records: Iterable[Any]) -> Path:
        path = self.raw / raw_key(date, hour, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(ndjson_gzip(records))
        return path

    def config(self, **overrides):
        from clickstream_job.config import JobConfig

        values = dict(raw_uri=self.raw.as_uri(), output_uri=self.output.as_uri(), state_uri=self.state.as_uri())
        values.update(overrides)
        return JobConfig(**values)

    def output_files(self, table: str = "url_country_daily") -> Dict[str, List[Path]]:
        """event_date -> files of the table (data files and the empty marker; Hadoop's local .crc
        side files left out)."""
        result: Dict[str, List[Path]] = {}
        folder = self.output / table
        if not folder.exists():
            return result
        for date_folder in sorted(folder.iterdir()):
            files = sorted(p for p in date_folder.iterdir() if not p.name.startswith(".") and p.name != "_SUCCESS")
            result[date_folder.name.split("=", 1)[1]] = files
        return result

    def output_rows(self, table: str = "url_country_daily") -> List[Dict[str, Any]]:
        rows: List[Dict[str, Any]] = []
        for files in self.output_files(table).values():
            for path in files:
                if not path.name.startswith("_"):
                    rows.extend(read_ndjson(path.read_text()))
        return rows

    def all_rows(self) -> Dict[str, List[Dict[str, Any]]]:
        return {table: self.output_rows(table) for table in TABLE_NAMES}

    def state_document(self) -> Optional[Dict[str, Any]]:
        path = self.state / "state.json"
        return json.loads(path.read_text()) if path.exists() else None


def key_of(table: str, row: Dict[str, Any]) -> Tuple:
    from clickstream_job.tables import TABLES

    return tuple(row[c] for c in TABLES[table].grain)


def rows_by_key(table: str, rows: Iterable[Dict[str, Any]]) -> Dict[Tuple, Dict[str, Any]]:
    result = {}
    for row in rows:
        key = key_of(table, row)
        assert key not in result, f"two {table} rows for {key}"
        result[key] = row
    return result


def without_computed_at(rows: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return sorted(({k: v for k, v in row.items() if k != "computed_at"} for row in rows), key=lambda r: json.dumps(r, sort_keys=True))
