"""Raw records to typed events, and duplicates removed (SPEC section 3). DataFrame in, DataFrame out."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from .schema import ENRICHMENT_DEFAULTS

MS_PER_DAY = 86_400_000
MS_PER_HOUR = 3_600_000

# ISO-8601 with a date, a time and an explicit zone. Spark's own parser also takes a bare date or a
# time without zone (then read in the session time zone); requiring the zone keeps the job's result
# independent of where it runs.
_ISO_TS_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$"

# Columns of a parsed event, in this order (plus `source_file` when the input has it).
EVENT_COLUMNS = (
    "event_id",
    "user_id",
    "page_url",
    "country",
    "city",
    "device_type",
    "browser",
    "os",
    "is_bot",
    "channel",
    "referrer_host",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "ts_ms",
    "event_date",
    "kafka_topic",
    "kafka_partition",
    "kafka_offset",
    "reject_reason",
)


def utc_date(epoch_ms: Column) -> Column:
    """`yyyy-MM-dd` UTC date of epoch milliseconds, by arithmetic: independent of the session time zone."""
    return F.date_add(F.lit("1970-01-01").cast("date"), F.floor(epoch_ms / MS_PER_DAY).cast("int")).cast("string")


def utc_hour_start(event_date: Column, epoch_ms: Column) -> Column:
    """`YYYY-MM-DDTHH:00:00.000Z`: the UTC hour of epoch milliseconds, as `traffic_hourly` writes it."""
    hour = F.floor(F.pmod(epoch_ms, F.lit(MS_PER_DAY)) / MS_PER_HOUR).cast("int")
    return F.concat(event_date, F.lit("T"), F.lpad(hour.cast("string"), 2, "0"), F.lit(":00:00.000Z"))


def _text(raw: DataFrame, name: str) -> Column:
    """The trimmed field, null when missing, blank or not in the input at all (older schema)."""
    if name not in raw.columns:
        return F.lit(None).cast("string")
    value = F.trim(F.col(name))
    return F.when(value != "", value)


def parse_events(raw: DataFrame) -> DataFrame:
    """Types and checks raw records, with the SPEC defaults for absent enrichment fields.

    Returns one row per input record with `EVENT_COLUMNS` (and `source_file` when the input has
    it). When the input has the `dt` of its folder, a record of another date is rejected
    (`date_outside_partition`). `ts_ms` is epoch milliseconds, `event_date` the UTC date of `ts`, `is_bot` a boolean
    (true only for a JSON `true` or the string "true"), `reject_reason` null for a valid record.
    """
    blank = lambda c: c.isNull() | (F.trim(c) == "")  # noqa: E731
    ts_valid = F.col("ts").rlike(_ISO_TS_PATTERN)
    ts_ms = F.when(ts_valid, F.expr("unix_millis(try_to_timestamp(ts))"))
    reason = (
        F.when(F.col("_corrupt_record").isNotNull(), F.lit("malformed_json"))
        .when(blank(F.col("event_id")), F.lit("missing_event_id"))
        .when(blank(F.col("user_id")), F.lit("missing_user_id"))
        .when(ts_ms.isNull(), F.lit("invalid_ts"))
        .when(blank(F.col("page_url")), F.lit("missing_page_url"))
    )
    if "dt" in raw.columns:  # read with the raw root as base path: the folder's date
        reason = reason.when(utc_date(ts_ms) != F.col("dt").cast("string"), F.lit("date_outside_partition"))
    enrichment = {
        name: F.coalesce(_text(raw, name), F.lit(default).cast("string")) if default is not None else _text(raw, name)
        for name, default in ENRICHMENT_DEFAULTS.items()
    }
    is_bot = F.coalesce(F.lower(_text(raw, "is_bot")) == "true", F.lit(False))
    columns = {
        "event_id": F.col("event_id"),
        "user_id": F.col("user_id"),
        "page_url": F.col("page_url"),
        "country": F.coalesce(_text(raw, "country"), F.lit("unknown")),
        "city": _text(raw, "city"),
        **enrichment,
        "is_bot": is_bot,
        "ts_ms": ts_ms,
        "event_date": utc_date(ts_ms),
        "kafka_topic": F.col("kafka.topic"),
        "kafka_partition": F.col("kafka.partition").cast("int"),
        "kafka_offset": F.col("kafka.offset").cast("long"),
        "reject_reason": reason,
    }
    selected = [columns[name].alias(name) for name in EVENT_COLUMNS]
    if "source_file" in raw.columns:
        selected.append(F.col("source_file"))
    return raw.select(*selected)


def deduplicate_events(events: DataFrame) -> DataFrame:
    """Keeps one row per (`event_date`, `event_id`): the one with the lowest Kafka (topic,
    partition, offset). Copies on different dates are different clicks and all kept.

    The other fields complete the order, so the choice never depends on input order or
    partitioning. A window (one shuffle, one sort) rather than `min(struct(...))`: Spark cannot
    hash-aggregate a struct buffer and would sort the data twice, before and after the shuffle.
    """
    tie_breakers = [c for c in EVENT_COLUMNS if c not in ("event_id", "event_date", "kafka_topic", "kafka_partition", "kafka_offset", "reject_reason")]
    order = [
        F.col("kafka_topic").asc_nulls_last(),
        F.col("kafka_partition").asc_nulls_last(),
        F.col("kafka_offset").asc_nulls_last(),
        *[F.col(c).asc_nulls_first() for c in tie_breakers if c in events.columns],
    ]
    copies = Window.partitionBy("event_date", "event_id").orderBy(*order)
    # "No copy before it" rather than row_number() == 1: for the latter Spark 3.5 adds a partial
    # group limit, one more sort of all rows before the shuffle, wasted when duplicates are rare.
    earlier = F.lag(F.lit(1)).over(copies)
    return events.withColumn("_earlier_copy", earlier).where(F.col("_earlier_copy").isNull()).drop("_earlier_copy")
