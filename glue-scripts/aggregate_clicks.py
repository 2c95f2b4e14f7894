"""Daily clicks, unique users and time on page per (event_date, page_url, country).

The scheduled Spark job of the clickstream pipeline (SPEC section 3). The same file runs under
AWS Glue 5 (Spark 3.5, `s3://` URIs) and under a local `pyspark` 3.5 (`s3a://` or `file://` URIs):

- the transforms (`parse_events`, `deduplicate_events`, `add_time_on_page`, `aggregate_daily`,
  `compute_daily_aggregates`) are plain functions of DataFrames, with no Glue-only API;
- the incremental bookkeeping (`dates_to_recompute`, `input_uris`, `next_state`) is plain Python over file listings;
- `run` does the I/O through Spark and the Hadoop FileSystem API (which serves `s3://` under Glue,
  `s3a://` and `file://` locally);
- `main` parses the job arguments (`getResolvedOptions` under Glue, argparse elsewhere; the same
  underscore names in both) and builds the Spark session.

Job arguments:
  --raw_uri               root of the raw events: <raw_uri>/dt=YYYY-MM-DD/hr=HH/*.ndjson.gz
  --output_uri            root of the aggregates: <output_uri>/event_date=YYYY-MM-DD/part-*.json
  --state_uri             where the job keeps <state_uri>/state.json between runs
  --dates                 optional backfill: YYYY-MM-DD[,YYYY-MM-DD|,YYYY-MM-DD..YYYY-MM-DD]
  --session_gap_minutes   optional, default 30: a longer gap starts a new session (1..1440)
  --lookback_days         optional, default none: incremental runs only look at raw partitions of
                          the last N days (bounds the listing cost of a long-retained raw zone)

Why a state object instead of Glue job bookmarks: bookmarks hand a run only the new files, but a
changed date must be recomputed from all of its files (and the overwrite of its output partition
would otherwise drop the rows of the older files). See docs/processing.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import logging
import math
import re
import sys
import threading
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

from py4j.protocol import Py4JError
from pyspark.sql import Column, DataFrame, Observation, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

LOG = logging.getLogger("aggregate_clicks")

DEFAULT_SESSION_GAP_MINUTES = 30
MAX_SESSION_GAP_MINUTES = 24 * 60
STATE_FORMAT_VERSION = 1
STATE_FILE_NAME = "state.json"
MS_PER_DAY = 86_400_000

# Every field is read as a string: the raw zone is written by our own ingest function, but a
# number where a string was expected (or the reverse, e.g. Kafka offsets that kafkajs hands out as
# strings) must not turn a whole record into a corrupt one. Types are enforced in parse_events.
RAW_EVENT_SCHEMA = T.StructType(
    [
        T.StructField("event_id", T.StringType()),
        T.StructField("user_id", T.StringType()),
        T.StructField("session_id", T.StringType()),
        T.StructField("ts", T.StringType()),
        T.StructField("url", T.StringType()),
        T.StructField("page_url", T.StringType()),
        T.StructField("country", T.StringType()),
        T.StructField("city", T.StringType()),
        T.StructField("user_agent", T.StringType()),
        T.StructField("referrer", T.StringType()),
        T.StructField(
            "kafka",
            T.StructType(
                [
                    T.StructField("topic", T.StringType()),
                    T.StructField("partition", T.StringType()),
                    T.StructField("offset", T.StringType()),
                    T.StructField("timestamp", T.StringType()),
                ]
            ),
        ),
        T.StructField("_corrupt_record", T.StringType()),
    ]
)

# Why parse_events rejects a record (its `reject_reason`).
REJECT_REASONS = ("malformed_json", "missing_event_id", "missing_user_id", "invalid_ts", "missing_page_url")
OBSERVATION_TIMEOUT_SECONDS = 120

OUTPUT_COLUMNS = [
    "event_date",
    "page_url",
    "country",
    "clicks",
    "unique_users",
    "timed_views",
    "total_time_spent_seconds",
    "avg_time_spent_seconds",
    "computed_at",
]

# ISO-8601 with a date, a time and an explicit zone. Spark's own parser also takes a bare date or a
# time without zone (then read in the session time zone); requiring the zone keeps the job's result
# independent of where it runs.
_ISO_TS_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$"

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DT_DIR_RE = re.compile(r"^dt=(\d{4}-\d{2}-\d{2})$")
_HR_DIR_RE = re.compile(r"^hr=(\d{2})$")


# ---------------------------------------------------------------------------------------------
# Transforms: DataFrame in, DataFrame out


def parse_events(raw: DataFrame) -> DataFrame:
    """Types and checks raw records.

    Returns one row per input record with `event_id`, `user_id`, `page_url`, `country`, `ts_ms`
    (epoch milliseconds), `event_date` (UTC date of `ts`, `yyyy-MM-dd`), the Kafka coordinates,
    `source_file` when the input has one, and `reject_reason` (null for a valid record).
    """
    trimmed = lambda name: F.trim(F.col(name))  # noqa: E731
    blank = lambda c: c.isNull() | (c == "")  # noqa: E731
    ts_valid = F.col("ts").rlike(_ISO_TS_PATTERN)
    ts_ms = F.when(ts_valid, F.expr("unix_millis(try_to_timestamp(ts))"))
    country = trimmed("country")
    reason = (
        F.when(F.col("_corrupt_record").isNotNull(), F.lit("malformed_json"))
        .when(blank(trimmed("event_id")), F.lit("missing_event_id"))
        .when(blank(trimmed("user_id")), F.lit("missing_user_id"))
        .when(ts_ms.isNull(), F.lit("invalid_ts"))
        .when(blank(trimmed("page_url")), F.lit("missing_page_url"))
    )
    columns = [
        F.col("event_id"),
        F.col("user_id"),
        F.col("page_url"),
        F.when(blank(country), F.lit("unknown")).otherwise(country).alias("country"),
        ts_ms.alias("ts_ms"),
        utc_date(ts_ms).alias("event_date"),
        F.col("kafka.topic").alias("kafka_topic"),
        F.col("kafka.partition").cast("int").alias("kafka_partition"),
        F.col("kafka.offset").cast("long").alias("kafka_offset"),
        reason.alias("reject_reason"),
    ]
    if "source_file" in raw.columns:
        columns.append(F.col("source_file"))
    return raw.select(*columns)


def deduplicate_events(events: DataFrame) -> DataFrame:
    """Keeps one row per `event_id`: the one with the lowest Kafka (topic, partition, offset).

    The remaining fields complete the order, so the choice never depends on input order or
    partitioning. A window (one shuffle, one sort) rather than `min(struct(...))`: Spark cannot
    hash-aggregate a struct buffer and would sort the data twice, before and after the shuffle.
    """
    order = [
        F.col("kafka_topic").asc_nulls_last(),
        F.col("kafka_partition").asc_nulls_last(),
        F.col("kafka_offset").asc_nulls_last(),
        *[F.col(c).asc() for c in ("ts_ms", "user_id", "page_url", "country")],
    ]
    copies = Window.partitionBy("event_id").orderBy(*order)
    # "No copy before it" rather than row_number() == 1: for the latter Spark 3.5 adds a partial
    # group limit, one more sort of all rows before the shuffle, wasted when duplicates are rare.
    earlier = F.lag(F.lit(1)).over(copies)
    return events.withColumn("_earlier_copy", earlier).where(F.col("_earlier_copy").isNull()).drop("_earlier_copy")


def add_time_on_page(events: DataFrame, session_gap_minutes: int = DEFAULT_SESSION_GAP_MINUTES) -> DataFrame:
    """Adds `time_on_page_ms`: the same user's next event's `ts_ms` minus this one's, when the
    next event is in the same session (at most `session_gap_minutes` later); null for an exit.

    Events of a user are ordered by `ts_ms`, then `event_id`, so ties are broken the same way on
    every run. Session boundaries only depend on consecutive gaps, so no session id is needed.
    """
    _check_session_gap(session_gap_minutes)
    gap_ms = session_gap_minutes * 60_000
    by_user = Window.partitionBy("user_id").orderBy("ts_ms", "event_id")
    next_ts = F.lead("ts_ms").over(by_user)
    return events.withColumn(
        "time_on_page_ms",
        F.when(next_ts.isNotNull() & ((next_ts - F.col("ts_ms")) <= gap_ms), next_ts - F.col("ts_ms")),
    )


def aggregate_daily(timed_events: DataFrame, computed_at: str) -> DataFrame:
    """One row per (`event_date`, `page_url`, `country`), the SPEC section 3 output grain.

    Two steps: per user first, then per row. `unique_users` is then a plain count (no
    `countDistinct`, which makes Spark duplicate every input row), and when the input is already
    partitioned by user (as after `add_time_on_page`) the first step needs no shuffle at all.
    Time is summed in integer milliseconds and only then turned into seconds: a sum of doubles
    depends on the order of the rows, which would make reruns differ in the last digits.
    """
    per_user = timed_events.groupBy("event_date", "page_url", "country", "user_id").agg(
        F.count(F.lit(1)).alias("clicks"),
        F.count("time_on_page_ms").alias("timed_views"),
        F.coalesce(F.sum("time_on_page_ms"), F.lit(0).cast("long")).alias("time_ms"),
    )
    grouped = per_user.groupBy("event_date", "page_url", "country").agg(
        F.sum("clicks").alias("clicks"),
        F.count(F.lit(1)).alias("unique_users"),
        F.sum("timed_views").alias("timed_views"),
        F.sum("time_ms").alias("total_time_ms"),
    )
    return grouped.select(
        "event_date",
        "page_url",
        "country",
        "clicks",
        "unique_users",
        "timed_views",
        (F.col("total_time_ms") / F.lit(1000.0)).alias("total_time_spent_seconds"),
        F.when(
            F.col("timed_views") > 0, F.col("total_time_ms") / (F.col("timed_views") * F.lit(1000.0))
        ).alias("avg_time_spent_seconds"),
        F.lit(computed_at).alias("computed_at"),
    )


def compute_daily_aggregates(
    parsed: DataFrame,
    dates: Iterable[str],
    computed_at: str,
    session_gap_minutes: int = DEFAULT_SESSION_GAP_MINUTES,
) -> DataFrame:
    """The whole aggregation of valid parsed events, limited to the output rows of `dates`.

    `parsed` must hold every event of `dates` and the events just after the end of each of them
    (the next event of a day's last event may be on the next day); rows of other dates in it only
    serve as "next events" and are not output. Only the columns a step needs go through its
    shuffle: the Kafka coordinates are dropped after deduplication, the date is derived after
    the sessions.
    """
    wanted = sorted(set(dates))
    valid = parsed.where(F.col("reject_reason").isNull()).select(
        "event_id", "user_id", "page_url", "country", "ts_ms", "kafka_topic", "kafka_partition", "kafka_offset"
    )
    deduped = deduplicate_events(valid).drop("kafka_topic", "kafka_partition", "kafka_offset")
    timed = add_time_on_page(deduped, session_gap_minutes).withColumn("event_date", utc_date(F.col("ts_ms")))
    return aggregate_daily(timed.where(F.col("event_date").isin(wanted)), computed_at).select(*OUTPUT_COLUMNS)


def utc_date(epoch_ms: Column) -> Column:
    """`yyyy-MM-dd` UTC date of epoch milliseconds, by arithmetic: independent of the session time zone."""
    return F.date_add(F.lit("1970-01-01").cast("date"), F.floor(epoch_ms / MS_PER_DAY).cast("int")).cast("string")


# ---------------------------------------------------------------------------------------------
# Incremental planning: plain Python over a listing of the raw zone


@dataclass(frozen=True)
class RawFile:
    name: str  # path relative to the dt= folder, e.g. "hr=00/clickstream-0-0-99.ndjson.gz"
    size: int
    modified_ms: int
    etag: str = ""  # when the file system exposes one (s3a does; not every S3 connector)


@dataclass
class RawPartition:
    """One `dt=.../hr=...` folder of the raw zone."""

    date: str
    hour: int
    uri: str
    files: List[RawFile] = field(default_factory=list)

    @property
    def key(self) -> str:
        return partition_key(self.date, self.hour)

    def fingerprint(self) -> str:
        """Changes whenever a file is added, removed, resized or rewritten (new modification time
        or ETag)."""
        lines = sorted(f"{f.name}\t{f.size}\t{f.modified_ms}\t{f.etag}" for f in self.files)
        return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def partition_key(date: str, hour: int) -> str:
    return f"dt={date}/hr={hour:02d}"


def _partition_date(key: str) -> str:
    return key[3:13]


def day_before(date: str) -> str:
    return (dt.date.fromisoformat(date) - dt.timedelta(days=1)).isoformat()


def day_after(date: str) -> str:
    return (dt.date.fromisoformat(date) + dt.timedelta(days=1)).isoformat()


def next_day_hours(session_gap_minutes: int) -> List[int]:
    """Hours of day D+1 that can hold the next event of one of day D's events within a session.

    The last event of D is before D+1 00:00, so a next event in the same session is before
    D+1 00:00 + gap: hours h with h * 60 < gap.
    """
    _check_session_gap(session_gap_minutes)
    return list(range(math.ceil(session_gap_minutes / 60)))


def dates_to_recompute(
    listing: Mapping[str, RawPartition],
    state_partitions: Mapping[str, str],
    backfill_dates: Optional[Sequence[str]],
) -> Tuple[List[str], List[str]]:
    """Returns (dates to recompute, dates whose raw input changed).

    Backfill: exactly the given dates. Incremental: a date changed when one of its partitions is
    new or has another fingerprint than in the state; each changed date D also recomputes D-1,
    whose last events' time on page depends on D's first events. A partition that disappeared is
    not a change: raw data expiring must not erase aggregates.
    """
    if backfill_dates is not None:
        return sorted(set(backfill_dates)), []
    changed = {p.date for key, p in listing.items() if state_partitions.get(key) != p.fingerprint()}
    return sorted(changed | {day_before(d) for d in changed}), sorted(changed)


def input_uris(listing: Mapping[str, RawPartition], dates: Iterable[str], session_gap_minutes: int) -> List[str]:
    """Raw folders to read for `dates`: all of each date, and the first hours of the day after."""
    wanted = set(dates)
    head_hours = set(next_day_hours(session_gap_minutes))
    return sorted(
        p.uri
        for p in listing.values()
        if p.files and (p.date in wanted or (day_before(p.date) in wanted and p.hour in head_hours))
    )


def next_state(
    listing: Mapping[str, RawPartition],
    listed_dates: Set[str],
    state_partitions: Mapping[str, str],
    recomputed_dates: Set[str],
) -> Dict[str, str]:
    """The state after a successful run.

    A partition of date X affects the output of X and of X-1, so its new fingerprint is recorded
    only when both were recomputed; otherwise its old entry stays and a later run still sees the
    change. Entries of listed dates whose partition is gone are dropped; entries of dates this
    run did not list are kept.
    """
    result = {k: v for k, v in state_partitions.items() if _partition_date(k) not in listed_dates}
    for key, partition in listing.items():
        if partition.date in recomputed_dates and day_before(partition.date) in recomputed_dates:
            result[key] = partition.fingerprint()
        elif key in state_partitions:
            result[key] = state_partitions[key]
    return dict(sorted(result.items()))


def parse_dates_argument(value: str) -> List[str]:
    """`2026-11-01,2026-11-03` or ranges `2026-11-01..2026-11-07` (inclusive), mixed freely."""
    dates: Set[str] = set()
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        start, sep, end = item.partition("..")
        first = _parse_date(start.strip(), value)
        last = _parse_date(end.strip(), value) if sep else first
        if last < first:
            raise ValueError(f"--dates: range {item!r} ends before it starts")
        if (last - first).days > 3660:
            raise ValueError(f"--dates: range {item!r} is longer than ten years")
        day = first
        while day <= last:
            dates.add(day.isoformat())
            day += dt.timedelta(days=1)
    if not dates:
        raise ValueError("--dates: no date given (expected YYYY-MM-DD[,YYYY-MM-DD|..YYYY-MM-DD])")
    return sorted(dates)


def _parse_date(text: str, whole: str) -> dt.date:
    if not _DATE_RE.match(text):
        raise ValueError(f"--dates: {text!r} in {whole!r} is not a YYYY-MM-DD date")
    try:
        return dt.date.fromisoformat(text)
    except ValueError as error:
        raise ValueError(f"--dates: {text!r} in {whole!r} is not a valid date ({error})") from None


def _check_session_gap(minutes: int) -> None:
    # Above a day, an event could change the time on page of an event two days earlier, and the
    # "recompute D-1" rule would no longer be enough.
    if not isinstance(minutes, int) or not 1 <= minutes <= MAX_SESSION_GAP_MINUTES:
        raise ValueError(f"session gap must be a whole number of minutes in 1..{MAX_SESSION_GAP_MINUTES}, got {minutes!r}")


# ---------------------------------------------------------------------------------------------
# I/O through Spark and the Hadoop FileSystem API


@dataclass(frozen=True)
class JobConfig:
    raw_uri: str
    output_uri: str
    state_uri: str
    dates: Optional[Tuple[str, ...]] = None
    session_gap_minutes: int = DEFAULT_SESSION_GAP_MINUTES
    lookback_days: Optional[int] = None


class HadoopFiles:
    """The few file operations the job needs, through the JVM's Hadoop FileSystem."""

    def __init__(self, spark: SparkSession):
        self._jvm = spark.sparkContext._jvm
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()

    def _fs(self, uri: str):
        path = self._jvm.org.apache.hadoop.fs.Path(uri)
        return path.getFileSystem(self._conf), path

    def read_text(self, uri: str) -> Optional[str]:
        fs, path = self._fs(uri)
        if not fs.exists(path):
            return None
        stream = fs.open(path)
        try:
            return self._jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8")
        finally:
            stream.close()

    def write_text(self, uri: str, text: str) -> None:
        fs, path = self._fs(uri)
        stream = fs.create(path, True)
        try:
            stream.write(bytearray(text.encode("utf-8")))
        finally:
            stream.close()

    def list_raw(self, raw_uri: str, keep_date: Callable[[str], bool]) -> Tuple[Dict[str, RawPartition], Set[str]]:
        """Lists `dt=*/hr=*` folders of dates that `keep_date` accepts.

        Returns the partitions by key and the set of dates listed. Hidden files (`_*`, `.*`, which
        Spark skips too) and anything outside the `dt=/hr=` layout are left out, the latter with a
        warning.
        """
        fs, root = self._fs(raw_uri)
        partitions: Dict[str, RawPartition] = {}
        listed: Set[str] = set()
        if not fs.exists(root):
            LOG.warning("raw location %s does not exist (yet): nothing to read", raw_uri)
            return partitions, listed
        for status in fs.listStatus(root):
            name = status.getPath().getName()
            match = _DT_DIR_RE.match(name)
            if not status.isDirectory() or not match or not _is_date(match.group(1)):
                if not name.startswith(("_", ".")):
                    LOG.warning("ignoring %s: not a dt=YYYY-MM-DD folder", status.getPath().toString())
                continue
            date = match.group(1)
            if not keep_date(date):
                continue
            listed.add(date)
            dt_uri = status.getPath().toString()
            files = fs.listFiles(status.getPath(), True)
            etags = True
            while files.hasNext():
                located = files.next()
                relative = located.getPath().toString()[len(dt_uri) + 1 :]
                parts = relative.split("/")
                if any(part.startswith(("_", ".")) for part in parts):
                    continue
                hour_match = _HR_DIR_RE.match(parts[0]) if len(parts) == 2 else None
                if not hour_match or int(hour_match.group(1)) > 23:
                    LOG.warning("ignoring %s: not in a dt=/hr=HH/ folder", located.getPath().toString())
                    continue
                hour = int(hour_match.group(1))
                key = partition_key(date, hour)
                partition = partitions.setdefault(key, RawPartition(date, hour, f"{dt_uri}/hr={hour:02d}"))
                etag = ""
                if etags:
                    try:
                        etag = located.getEtag() or ""
                    except Py4JError:  # not an org.apache.hadoop.fs.EtagSource
                        etags = False
                partition.files.append(RawFile(relative, int(located.getLen()), int(located.getModificationTime()), etag))
        return partitions, listed


def _is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
        return True
    except ValueError:
        return False


def _join(uri: str, name: str) -> str:
    return uri.rstrip("/") + "/" + name


def load_state(files: HadoopFiles, state_uri: str) -> Dict[str, str]:
    uri = _join(state_uri, STATE_FILE_NAME)
    text = files.read_text(uri)
    if text is None:
        return {}
    try:
        document = json.loads(text)
        if document.get("format_version") != STATE_FORMAT_VERSION:
            raise ValueError(f"format_version {document.get('format_version')!r}, expected {STATE_FORMAT_VERSION}")
        partitions = document["partitions"]
        if not isinstance(partitions, dict) or not all(isinstance(v, str) for v in partitions.values()):
            raise ValueError("partitions is not an object of fingerprints")
        return dict(partitions)
    except (ValueError, KeyError, AttributeError) as error:
        # Guessing would either redo everything or skip changes; an operator decides instead.
        raise RuntimeError(
            f"job state {uri} is unreadable ({error}). Delete it to recompute every date from the raw zone, "
            "or restore the previous version."
        ) from None


def save_state(files: HadoopFiles, config: JobConfig, partitions: Mapping[str, str], computed_at: str) -> None:
    document = {
        "format_version": STATE_FORMAT_VERSION,
        "raw_uri": config.raw_uri,
        "updated_at": computed_at,
        "partitions": dict(sorted(partitions.items())),
    }
    files.write_text(_join(config.state_uri, STATE_FILE_NAME), json.dumps(document, indent=1) + "\n")


def read_raw(spark: SparkSession, uris: Sequence[str], with_source_file: bool = False) -> DataFrame:
    """Reads raw NDJSON (gzip or not) with the explicit schema; never infers one."""
    frame = (
        spark.read.schema(RAW_EVENT_SCHEMA)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", "_corrupt_record")
        .json(list(uris))
    )
    return frame.withColumn("source_file", F.input_file_name()) if with_source_file else frame


def write_date(aggregates: DataFrame, output_uri: str, date: str) -> None:
    """Replaces `<output_uri>/event_date=<date>/` with one file of that date's rows.

    One overwrite per date instead of `partitionBy`: Spark leaves partition columns out of the
    files, and the indexer needs `event_date` in every row. Only this folder is replaced.
    """
    (
        aggregates.where(F.col("event_date") == date)
        .coalesce(1)
        .sortWithinPartitions("page_url", "country")
        .write.mode("overwrite")
        .option("ignoreNullFields", "false")  # avg_time_spent_seconds: null, not a missing field
        .option("mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")  # no _SUCCESS object
        .json(_join(output_uri, f"event_date={date}"))
    )


def format_instant(instant: dt.datetime) -> str:
    utc = instant.astimezone(dt.timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def run(spark: SparkSession, config: JobConfig, now: Optional[dt.datetime] = None) -> Dict[str, object]:
    """One job run. Returns a summary (also logged as one JSON line)."""
    _check_session_gap(config.session_gap_minutes)
    now = now or dt.datetime.now(dt.timezone.utc)
    computed_at = format_instant(now)
    files = HadoopFiles(spark)
    state = load_state(files, config.state_uri)

    if config.dates is not None:
        wanted = set(config.dates)
        keep = lambda d: d in wanted or day_before(d) in wanted  # noqa: E731
    elif config.lookback_days is not None:
        oldest = (now.date() - dt.timedelta(days=config.lookback_days)).isoformat()
        keep = lambda d: d >= oldest  # noqa: E731
    else:
        keep = lambda d: True  # noqa: E731
    listing, listed_dates = files.list_raw(config.raw_uri, keep)
    dates, changed_dates = dates_to_recompute(listing, state, config.dates)
    # A recomputed date reads itself and the start of the next day; with a lookback window these
    # may not have been listed yet.
    needed = set(dates) | {day_after(d) for d in dates}
    if needed - listed_dates:
        unlisted = needed - listed_dates
        extra, extra_dates = files.list_raw(config.raw_uri, lambda d: d in unlisted)
        listing = {**listing, **extra}
        listed_dates = listed_dates | extra_dates | unlisted
    inputs = input_uris(listing, dates, config.session_gap_minutes)

    summary: Dict[str, object] = {
        "mode": "backfill" if config.dates is not None else "incremental",
        "computed_at": computed_at,
        "changed_dates": changed_dates,
        "dates": dates,
        "input_partitions": len(inputs),
        "records_read": 0,
        "rejected": {},
        "dates_written": [],
        "rows_written": 0,
        "state_written": False,
    }
    if not dates:
        LOG.info("no raw input changed since the last successful run: nothing to do")
        _log_summary(summary)
        return summary

    if inputs:
        # Rejected records are counted while the aggregation reads the input (one pass, no cache
        # of the parsed events); their object names are looked up only when there are any.
        observation = Observation("raw_records")
        parsed = parse_events(read_raw(spark, inputs)).observe(
            observation,
            F.count(F.lit(1)).alias("records"),
            *[F.sum(F.when(F.col("reject_reason") == r, 1).otherwise(0)).alias(r) for r in REJECT_REASONS],
        )
        aggregates = compute_daily_aggregates(parsed, dates, computed_at, config.session_gap_minutes).persist()
        try:
            counts = {r["event_date"]: r["rows"] for r in aggregates.groupBy("event_date").agg(F.count(F.lit(1)).alias("rows")).collect()}
            summary["records_read"], summary["rejected"] = _rejected(spark, observation, inputs)
            for date in sorted(counts):
                write_date(aggregates, config.output_uri, date)
            summary["dates_written"] = sorted(counts)
            summary["rows_written"] = sum(counts.values())
        finally:
            aggregates.unpersist()
    empty = sorted(set(dates) - set(summary["dates_written"]))  # type: ignore[arg-type]
    if empty:
        # Nothing to replace them with: existing output of these dates (if any) is left alone.
        LOG.info("no events for %s: their output partitions are left as they are", ",".join(empty))

    new_state = next_state(listing, listed_dates, state, set(dates))
    if new_state != state:
        save_state(files, config, new_state, computed_at)
        summary["state_written"] = True
    _log_summary(summary)
    return summary


def _rejected(spark: SparkSession, observation: Observation, inputs: Sequence[str]) -> Tuple[Optional[int], Dict[str, int]]:
    """(records read, invalid records by reason) from the observation of the aggregation pass."""
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
        rejected = parse_events(read_raw(spark, inputs, with_source_file=True)).where(F.col("reject_reason").isNotNull())
        sample = [r["source_file"] for r in rejected.select("source_file").distinct().limit(20).collect()]
        LOG.warning("skipped %d invalid raw records %s; in objects such as %s", sum(counts.values()), counts, sample)
    return int(metrics.get("records") or 0), dict(sorted(counts.items()))


def _log_summary(summary: Mapping[str, object]) -> None:
    LOG.info("aggregate_clicks summary %s", json.dumps(summary, sort_keys=True))


# ---------------------------------------------------------------------------------------------
# Entry point

REQUIRED_ARGUMENTS = ("raw_uri", "output_uri", "state_uri")
OPTIONAL_ARGUMENTS = ("dates", "session_gap_minutes", "lookback_days")


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
    return JobConfig(
        raw_uri=str(values["raw_uri"]).strip(),
        output_uri=str(values["output_uri"]).strip(),
        state_uri=str(values["state_uri"]).strip(),
        dates=tuple(parse_dates_argument(dates_text)) if dates_text else None,
        session_gap_minutes=_parse_int("session_gap_minutes", gap_text, 1, MAX_SESSION_GAP_MINUTES) if gap_text else DEFAULT_SESSION_GAP_MINUTES,
        lookback_days=_parse_int("lookback_days", lookback_text, 0, 36600) if lookback_text else None,
    )


def _parse_int(name: str, text: str, low: int, high: int) -> int:
    if not re.fullmatch(r"\d+", text) or not low <= int(text) <= high:
        raise ValueError(f"--{name} must be a whole number in {low}..{high}, got {text!r}")
    return int(text)


def build_spark_session() -> SparkSession:
    spark = SparkSession.builder.appName("aggregate_clicks").getOrCreate()
    # The transforms do not depend on it; logs and any ad-hoc date formatting are in UTC.
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    return spark


def main(argv: Sequence[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stdout)
    try:
        config = parse_job_arguments(argv)
    except ValueError as error:
        LOG.error("invalid job arguments: %s", error)
        return 2
    run(build_spark_session(), config)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
