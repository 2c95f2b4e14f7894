"""Sessions, entries, exits, bounces and time on page (SPEC section 3), in one pass.

A user's events of one date are ordered by (`is_bot`, `ts_ms`, `event_id`) in a single window:
human events first, so bot events never sit between them and never start, end or extend a session.
Everything the tables need comes from that one sort:

- `is_entry`: the first human event of the date, or one more than the gap after the previous one;
- `time_on_page_ms`: the next human event's `ts_ms` minus this one's, when that is within the gap;
- `is_exit`: a human event without a next event in its session (its time on page is null);
- `is_bounce` (on the entry event): the session has exactly one event;
- `session` (on the exit event only): the session's `pageviews`, `duration_ms` and the
  attributes of its entry event (`SESSION_ATTRIBUTES`), carried forward with a running `last`.

Sessions never span dates: the window is per (`user_id`, `event_date`), which is also what makes
every figure of a date depend on that date's events alone.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from .config import DEFAULT_SESSION_GAP_MINUTES, check_session_gap

# What a session takes from its entry event.
SESSION_ATTRIBUTES = (
    "country",
    "device_type",
    "browser",
    "os",
    "channel",
    "referrer_host",
    "utm_source",
    "utm_medium",
    "utm_campaign",
)

# The event-level columns every table may need, besides the session columns.
EVENT_FIELDS = ("event_date", "ts_ms", "user_id", "page_url", "country", "city", "device_type", "is_bot")

SESSIONIZED_COLUMNS = EVENT_FIELDS + ("time_on_page_ms", "is_entry", "is_exit", "is_bounce", "session")


def sessionize(events: DataFrame, session_gap_minutes: int = DEFAULT_SESSION_GAP_MINUTES) -> DataFrame:
    """Valid, deduplicated events (human and bot) with the session columns described above.

    Bot events come out with `is_entry`, `is_exit`, `is_bounce` false and `time_on_page_ms`,
    `session` null. The result is hash-partitioned by (`user_id`, `event_date`), so per-user
    aggregations of it need no further shuffle.
    """
    check_session_gap(session_gap_minutes)
    gap_ms = F.lit(session_gap_minutes * 60_000)
    timeline = Window.partitionBy("user_id", "event_date").orderBy("is_bot", "ts_ms", "event_id")
    running = timeline.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    ts = F.col("ts_ms")
    human = ~F.col("is_bot")

    neighbours = events.select(
        "event_id",
        *EVENT_FIELDS,
        *[F.col(a) for a in SESSION_ATTRIBUTES if a not in EVENT_FIELDS],
        F.lag("ts_ms").over(timeline).alias("_previous_ts"),
        F.lead("ts_ms").over(timeline).alias("_next_ts"),
        F.lead("is_bot").over(timeline).alias("_next_is_bot"),
        F.row_number().over(timeline).alias("_position"),
    )
    next_in_session = (
        human
        & F.col("_next_ts").isNotNull()
        & ~F.coalesce(F.col("_next_is_bot"), F.lit(True))
        & ((F.col("_next_ts") - ts) <= gap_ms)
    )
    flagged = neighbours.select(
        "*",
        (human & (F.col("_previous_ts").isNull() | ((ts - F.col("_previous_ts")) > gap_ms))).alias("is_entry"),
        (human & ~next_in_session).alias("is_exit"),
        F.when(next_in_session, F.col("_next_ts") - ts).alias("time_on_page_ms"),
    )
    # The struct is never null on an entry event, even when some of its fields are (no browser,
    # no campaign), so `last(..., ignorenulls)` always finds the entry of the current session.
    entry = F.last(
        F.when(F.col("is_entry"), F.struct(F.col("_position").alias("position"), ts.alias("ts_ms"), *SESSION_ATTRIBUTES)),
        ignorenulls=True,
    ).over(running)
    with_entry = flagged.withColumn("_entry", entry)
    session = F.when(
        F.col("is_exit"),
        F.struct(
            (F.col("_position") - F.col("_entry.position") + 1).alias("pageviews"),
            (ts - F.col("_entry.ts_ms")).alias("duration_ms"),
            *[F.col(f"_entry.{a}").alias(a) for a in SESSION_ATTRIBUTES],
        ),
    )
    return with_entry.select(
        *EVENT_FIELDS,
        "time_on_page_ms",
        "is_entry",
        "is_exit",
        (F.col("is_entry") & F.col("is_exit")).alias("is_bounce"),
        session.alias("session"),
    )
