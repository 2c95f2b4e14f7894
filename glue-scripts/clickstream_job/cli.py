"""The job's entry point (`main`) and one run (`run`).

Only this module reads the job arguments (`getResolvedOptions` under Glue, argparse elsewhere; the
same underscore names in both), builds the SparkSession or touches `awsglue`.

Job arguments:
  --raw_uri               root of the raw events: <raw_uri>/dt=YYYY-MM-DD/hr=HH/*.ndjson.gz
  --output_uri            root of the aggregates: <output_uri>/<table>/event_date=YYYY-MM-DD/part-*.json
  --state_uri             where the job keeps <state_uri>/state.json between runs
  --dates                 optional backfill: YYYY-MM-DD[,YYYY-MM-DD|,YYYY-MM-DD..YYYY-MM-DD]
  --session_gap_minutes   optional, default 30: a longer gap starts a new session (1..1440)
  --lookback_days         optional, default none: incremental runs only look at raw partitions of
                          the last N days (bounds the listing cost of a long-retained raw zone)
  --changes_uri           optional: the partition change log ingest writes (<changes_uri>/dt=YYYY-MM-DD/*.json);
                          incremental runs also list the dates it names (older than the lookback
                          window too) and remove the entries they consumed
  --raw_expiration_days   optional: the raw zone's expiry; incremental runs never recompute a date
                          whose raw data may have started to expire (docs/operations.md, "Data safety")
  --mode                  optional: `aggregate` (default) or `erase`, with --erase_request, --quarantine_uri
                          and --privacy_key_secret_id or --privacy_key_file (erasure.py, docs/privacy.md)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import re
import sys
import threading
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from pyspark import StorageLevel
from pyspark.sql import Observation, SparkSession
from pyspark.sql import functions as F

from .config import (
    DEFAULT_SESSION_GAP_MINUTES,
    MAX_LOOKBACK_DAYS,
    MAX_RAW_EXPIRATION_DAYS,
    MAX_SESSION_GAP_MINUTES,
    JobConfig,
    format_instant,
    parse_dates_argument,
)
from .erasure import ErasureConfig, erase, load_key
from .io import HadoopFiles, date_folder, join_uri, load_consumed_changes, load_state, read_raw, save_state, write_date, write_empty_date
from .parse import deduplicate_events, parse_events
from .schema import REJECT_REASONS
from .sessions import sessionize
from .state import change_log_dates, dates_to_recompute, input_uris, listing_filter, next_state, recompute_horizon
from .tables import TABLES, compute_tables

LOG = logging.getLogger("clickstream_job")
OBSERVATION_TIMEOUT_SECONDS = 120
SUMMARY_PREFIX = "aggregate_clicks summary"


def run(spark: SparkSession, config: JobConfig, now: Optional[dt.datetime] = None) -> Dict[str, object]:
    """One job run: plan, recompute the planned dates of every table, then save the state.

    Returns a summary (also logged as one JSON line, `aggregate_clicks summary {...}`).
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    computed_at = format_instant(now)
    today = now.astimezone(dt.timezone.utc).date()
    files = HadoopFiles(spark)
    table_names = list(TABLES)
    state = load_state(files, config.state_uri, table_names)
    horizon = recompute_horizon(config, today) if config.dates is None else None

    # The change log (incremental runs): the dates ingest wrote to since the entries were last
    # consumed, older than the lookback window too. Entries the last run consumed but could not
    # remove are only removed.
    log_entries: List[str] = []
    log_dates: Dict[str, List[str]] = {}
    consumed_before: set = set()
    if config.changes_uri is not None and config.dates is None:
        log_entries = files.list_change_log(config.changes_uri)
        consumed_before = load_consumed_changes(files, config.state_uri, config.changes_uri)
        log_dates, unknown = change_log_dates(e for e in log_entries if e not in consumed_before)
        if unknown:
            LOG.warning("ignoring %d objects in the change log %s that are not dt=YYYY-MM-DD/<name>.json entries, e.g. %s", len(unknown), config.changes_uri, unknown[:5])
    too_old = sorted(d for d in log_dates if horizon is not None and d < horizon)
    if too_old:
        LOG.warning(
            "not recomputing %d dates named by the change log whose raw data may have started to expire (before %s, raw expiry %s days): %s; "
            "their aggregates stay as they are (docs/operations.md, \"Data safety\")",
            len(too_old), horizon, config.raw_expiration_days, too_old,
        )

    listing, listed_dates = files.list_raw(config.raw_uri, listing_filter(config, today, log_dates))
    dates, changed_dates = dates_to_recompute(listing, state, config.dates)
    inputs = input_uris(listing, dates)
    consumed = sorted(e for d in log_dates.values() for e in d)
    # What this run removes once it succeeded: the entries it covered, and those consumed before.
    to_remove = consumed + sorted(e for e in log_entries if e in consumed_before)

    summary: Dict[str, object] = {
        "mode": "backfill" if config.dates is not None else "incremental",
        "computed_at": computed_at,
        "changed_dates": changed_dates,
        "dates": dates,
        "change_log_entries": len(consumed),
        "change_log_dates": sorted(log_dates),
        "not_recomputed_dates": too_old,
        "input_partitions": len(inputs),
        "records_read": 0,
        "rejected": {},
        "tables": {name: {"dates": [], "rows": 0, "emptied": []} for name in table_names},
        "dates_written": [],
        "rows_written": 0,
        "state_written": False,
    }
    if not dates:
        LOG.info("no raw input changed since the last successful run: nothing to do")
        # Nothing to record: the entries' dates had no change the outputs do not already reflect.
        _remove_change_entries(files, config, to_remove)
        _log_summary(summary)
        return summary

    result = recompute_dates(spark, files, config, inputs, dates, computed_at)
    summary.update(result)
    new_state = next_state(listing, listed_dates, state, set(dates), horizon)
    change_log = None if config.changes_uri is None else {"uri": config.changes_uri, "consumed": consumed}
    if new_state != state or consumed:
        save_state(files, config.state_uri, config.raw_uri, table_names, new_state, computed_at, change_log)
        summary["state_written"] = True
    # Only after the state: a run that fails before it leaves every entry for the next run.
    _remove_change_entries(files, config, to_remove)
    _log_summary(summary)
    return summary


def _remove_change_entries(files: HadoopFiles, config: JobConfig, entries: Sequence[str]) -> None:
    """Removes change-log entries this run covered. One that cannot be removed is
    listed again by the next run, which finds its dates unchanged (or, when the state names it as
    consumed, removes it without looking): a warning, not a failure."""
    if config.changes_uri is None or not entries:
        return
    failed = files.delete_files([join_uri(config.changes_uri, entry) for entry in entries])
    if failed:
        LOG.warning("%d of %d change-log entries could not be removed; the next run removes them: %s", len(failed), len(entries), failed[:5])


def recompute_dates(
    spark: SparkSession,
    files: HadoopFiles,
    config: JobConfig,
    inputs: Sequence[str],
    dates: Sequence[str],
    computed_at: str,
) -> Dict[str, object]:
    """Replaces the output of `dates` in every table with what `inputs` (exactly the raw
    partitions of those dates) give. A date with no rows left in a table gets the empty marker
    when it had output there. Returns the summary fields of the writes and of the input."""
    tables: Dict[str, Dict[str, object]] = {name: {"dates": [], "rows": 0, "emptied": []} for name in TABLES}
    records_read: Optional[int] = 0
    rejected: Dict[str, int] = {}
    counts_by_table: Dict[str, Dict[str, int]] = {name: {} for name in TABLES}
    if inputs:
        # One read and one sessionization, shared by every table. Invalid records are counted by
        # an Observation during that pass; their object names are looked up only when there are any.
        observation = Observation("raw_records")
        parsed = parse_events(read_raw(spark, inputs, raw_root=config.raw_uri)).observe(
            observation,
            F.count(F.lit(1)).alias("records"),
            *[F.count(F.when(F.col("reject_reason") == r, 1)).alias(r) for r in REJECT_REASONS],
        )
        valid = parsed.where(F.col("reject_reason").isNull())
        sessionized = sessionize(deduplicate_events(valid), config.session_gap_minutes).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            for name, frame in compute_tables(sessionized, computed_at).items():
                rows = frame.persist()
                try:
                    counts_by_table[name] = {r["event_date"]: int(r["rows"]) for r in rows.groupBy("event_date").agg(F.count(F.lit(1)).alias("rows")).collect()}
                    if name == next(iter(TABLES)):
                        records_read, rejected = _rejected(spark, observation, inputs, config.raw_uri)
                    for date in sorted(counts_by_table[name]):
                        write_date(rows.where(F.col("event_date") == date), date_folder(config.output_uri, name, date), TABLES[name].grain)
                finally:
                    rows.unpersist()
        finally:
            sessionized.unpersist()
    for name in TABLES:
        counts = counts_by_table[name]
        emptied = [d for d in dates if d not in counts and write_empty_date(files, date_folder(config.output_uri, name, d), name, d, computed_at)]
        tables[name] = {"dates": sorted(counts), "rows": sum(counts.values()), "emptied": emptied}
    written = sorted({d for t in tables.values() for d in t["dates"]})  # type: ignore[attr-defined]
    return {
        "records_read": records_read,
        "rejected": rejected,
        "tables": tables,
        "dates_written": written,
        "rows_written": sum(int(t["rows"]) for t in tables.values()),  # type: ignore[arg-type]
    }


def _rejected(spark: SparkSession, observation: Observation, inputs: Sequence[str], raw_root: str) -> Tuple[Optional[int], Dict[str, int]]:
    """(records read, invalid records by reason) from the observation of the input pass."""
    metrics: Dict[str, int] = {}
    waiter = threading.Thread(target=lambda: metrics.update(observation.get), daemon=True)
    waiter.start()
    waiter.join(OBSERVATION_TIMEOUT_SECONDS)  # the metrics are there once the pass ran; never hang on them
    if not metrics:
        LOG.warning("record counts were not reported by Spark; rejected records are not counted in this run's summary")
        return None, {}
    counts = {reason: int(metrics[reason] or 0) for reason in REJECT_REASONS if metrics.get(reason)}
    if counts:
        # The records stay in the raw zone; name the objects so an operator can find and fix them.
        rejected = parse_events(read_raw(spark, inputs, raw_root=raw_root, with_source_file=True)).where(F.col("reject_reason").isNotNull())
        sample = [r["source_file"] for r in rejected.select("source_file").distinct().limit(20).collect()]
        LOG.warning("skipped %d invalid raw records %s; in objects such as %s", sum(counts.values()), counts, sample)
    return int(metrics.get("records") or 0), dict(sorted(counts.items()))


def _log_summary(summary: Mapping[str, object]) -> None:
    LOG.info("%s %s", SUMMARY_PREFIX, json.dumps(summary, sort_keys=True))
    for name, table in summary["tables"].items():  # type: ignore[union-attr]
        LOG.info("table %s: %d rows in %d dates %s; emptied %s", name, table["rows"], len(table["dates"]), table["dates"], table["emptied"] or "none")


# ---------------------------------------------------------------------------------------------
# Entry point

REQUIRED_ARGUMENTS = ("raw_uri", "output_uri", "state_uri")
OPTIONAL_ARGUMENTS = ("dates", "session_gap_minutes", "lookback_days", "changes_uri", "raw_expiration_days")


def parse_job_arguments(argv: Sequence[str]) -> JobConfig:
    """Job arguments from `argv` (`argv[0]` is the script): Glue's resolver when it imports."""
    try:
        from awsglue.utils import getResolvedOptions  # type: ignore[import-not-found]
    except ImportError:
        getResolvedOptions = None
    if getResolvedOptions is not None:
        # getResolvedOptions makes every name it is given required; pass optional ones only when present.
        present = [name for name in OPTIONAL_ARGUMENTS if f"--{name}" in argv]
        values: Mapping[str, Optional[str]] = getResolvedOptions(list(argv), list(REQUIRED_ARGUMENTS) + present)
    else:
        parser = argparse.ArgumentParser(prog="aggregate_clicks.py", allow_abbrev=False)
        for name in REQUIRED_ARGUMENTS:
            parser.add_argument(f"--{name}", required=True)
        for name in OPTIONAL_ARGUMENTS:
            parser.add_argument(f"--{name}")
        # Tolerate the extra arguments Glue and spark-submit wrappers add, as getResolvedOptions does.
        known, _unknown = parser.parse_known_args(list(argv[1:]))
        values = vars(known)
    for name in REQUIRED_ARGUMENTS:
        if not (values.get(name) or "").strip():
            raise ValueError(f"--{name} must not be empty")
    dates_text = (values.get("dates") or "").strip()
    gap_text = (values.get("session_gap_minutes") or "").strip()
    lookback_text = (values.get("lookback_days") or "").strip()
    changes_text = (values.get("changes_uri") or "").strip()
    expiration_text = (values.get("raw_expiration_days") or "").strip()
    return JobConfig(
        raw_uri=str(values["raw_uri"]).strip(),
        output_uri=str(values["output_uri"]).strip(),
        state_uri=str(values["state_uri"]).strip(),
        dates=tuple(parse_dates_argument(dates_text)) if dates_text else None,
        session_gap_minutes=_parse_int("session_gap_minutes", gap_text, 1, MAX_SESSION_GAP_MINUTES) if gap_text else DEFAULT_SESSION_GAP_MINUTES,
        lookback_days=_parse_int("lookback_days", lookback_text, 0, MAX_LOOKBACK_DAYS) if lookback_text else None,
        changes_uri=changes_text or None,
        raw_expiration_days=_parse_int("raw_expiration_days", expiration_text, 2, MAX_RAW_EXPIRATION_DAYS) if expiration_text else None,
    )


def _parse_int(name: str, text: str, low: int, high: int) -> int:
    if not re.fullmatch(r"\d+", text) or not low <= int(text) <= high:
        raise ValueError(f"--{name} must be a whole number in {low}..{high}, got {text!r}")
    return int(text)


ERASURE_ARGUMENTS = ("mode", "erase_request", "quarantine_uri", "privacy_key_secret_id", "privacy_key_file")


def parse_erasure_arguments(argv: Sequence[str], config: JobConfig) -> Optional[ErasureConfig]:
    """The erasure mode's arguments (`--mode erase --erase_request URI [--quarantine_uri URI]
    --privacy_key_secret_id ID | --privacy_key_file PATH`), or None for an aggregation run.

    Parsed from `argv` as Glue passes them (`--name value`), with or without awsglue (whose
    resolver would make each of them required).
    """
    parser = argparse.ArgumentParser(prog="aggregate_clicks.py", allow_abbrev=False, add_help=False)
    for name in ERASURE_ARGUMENTS:
        parser.add_argument(f"--{name}")
    values = vars(parser.parse_known_args(list(argv[1:]))[0])
    mode = (values.get("mode") or "aggregate").strip()
    if mode == "aggregate":
        return None
    if mode != "erase":
        raise ValueError(f"--mode must be aggregate or erase, got {mode!r}")
    request_uri = (values.get("erase_request") or "").strip()
    if not request_uri:
        raise ValueError("--mode erase needs --erase_request")
    if config.dates is not None:
        raise ValueError("--mode erase recomputes the dates it changes; it takes no --dates")
    # Default: `quarantine` beside the raw events' folder (s3://raw/events -> s3://raw/quarantine).
    quarantine_uri = (values.get("quarantine_uri") or "").strip() or f"{config.raw_uri.rstrip('/').rpartition('/')[0]}/quarantine"
    key = load_key(values.get("privacy_key_secret_id"), values.get("privacy_key_file"))
    return ErasureConfig(request_uri=request_uri, quarantine_uri=quarantine_uri, key=key)


def build_spark_session() -> SparkSession:
    spark = SparkSession.builder.appName("aggregate_clicks").getOrCreate()
    # The transforms do not depend on it; logs and any ad-hoc date formatting are in UTC.
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    return spark


def main(argv: Sequence[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stdout)
    try:
        config = parse_job_arguments(argv)
        erasure = parse_erasure_arguments(argv, config)
    except ValueError as error:
        LOG.error("invalid job arguments: %s", error)
        return 2
    if erasure is not None:
        # Erasure mode (docs/privacy.md): rewrite the raw zone without the erased users, recompute their dates.
        spark = build_spark_session()
        report = erase(spark, config, erasure, recompute=lambda dates_config: run(spark, dates_config))
        fields = ("request_id", "objects_scanned", "objects_rewritten", "events_removed", "quarantine_lines_removed", "dates_recomputed")
        LOG.info("%s %s", SUMMARY_PREFIX, json.dumps({"mode": "erase", **{k: report[k] for k in fields}}, sort_keys=True))
        return 0
    run(build_spark_session(), config)
    return 0
