"""The five output tables of SPEC section 3, one function each, all from the sessionized events.

Each function takes the output of `sessions.sessionize` (valid, deduplicated events of the dates
being computed) and the run's `computed_at`, and returns the table's rows with `Table.columns`.
A row exists when at least one of its counts is above 0: every row comes from a group of at least
one event (or one session), so this holds by construction.

Distinct users are counted in two steps, per user first and then per row: `countDistinct` would
make Spark duplicate every input row, and because the sessionized events are already partitioned
by (`user_id`, `event_date`), the per-user step needs no shuffle. Times are summed in integer
milliseconds and only then turned into seconds: a sum of doubles depends on the order of the rows,
which would make reruns differ in the last digits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Sequence, Tuple

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from .parse import utc_hour_start


@dataclass(frozen=True)
class Table:
    name: str
    compute: Callable[[DataFrame, str], DataFrame]
    # The row's key; `event_date` (the output partition) comes first in every table.
    grain: Tuple[str, ...]
    columns: Tuple[str, ...]


def _count(condition: Column) -> Column:
    return F.count(F.when(condition, F.lit(1)))


def _seconds(ms: Column) -> Column:
    return ms / F.lit(1000.0)


def _ratio(numerator: Column, denominator: Column) -> Column:
    return F.when(denominator > 0, numerator / denominator.cast("double"))


def _event_rows(sessionized: DataFrame, grain: Sequence[str], computed_at: str) -> DataFrame:
    """Per-event counts over `grain`: clicks, unique_users, sessions (entries), bot_clicks, and
    what url_country_daily needs besides (timed views, time, bounces)."""
    human = ~F.col("is_bot")
    per_user = sessionized.groupBy(*grain, "user_id").agg(
        _count(human).alias("clicks"),
        _count(F.col("is_bot")).alias("bot_clicks"),
        F.count("time_on_page_ms").alias("timed_views"),
        F.coalesce(F.sum("time_on_page_ms"), F.lit(0).cast("long")).alias("time_ms"),
        _count(F.col("is_entry")).alias("entrances"),
        _count(F.col("is_bounce")).alias("bounces"),
    )
    return per_user.groupBy(*grain).agg(
        F.sum("clicks").alias("clicks"),
        _count(F.col("clicks") > 0).alias("unique_users"),
        F.sum("timed_views").alias("timed_views"),
        F.sum("time_ms").alias("time_ms"),
        F.sum("entrances").alias("entrances"),
        F.sum("bounces").alias("bounces"),
        F.sum("bot_clicks").alias("bot_clicks"),
    ).withColumn("computed_at", F.lit(computed_at))


def _session_rows(sessionized: DataFrame, grain: Sequence[str], computed_at: str) -> DataFrame:
    """Per-session counts over `grain` (event_date and attributes of the session's entry event)."""
    sessions = sessionized.where(F.col("is_exit")).select(
        "event_date", "user_id", *[F.col(f"session.{c}").alias(c) for c in grain if c != "event_date"],
        F.col("session.pageviews").alias("pageviews"), F.col("session.duration_ms").alias("duration_ms"),
    )
    per_user = sessions.groupBy(*grain, "user_id").agg(
        F.count(F.lit(1)).alias("sessions"),
        _count(F.col("pageviews") == 1).alias("bounces"),
        F.sum("pageviews").alias("pageviews"),
        F.sum("duration_ms").alias("duration_ms"),
    )
    return per_user.groupBy(*grain).agg(
        F.sum("sessions").alias("sessions"),
        F.sum("bounces").alias("bounces"),
        F.sum("pageviews").alias("pageviews"),
        F.count(F.lit(1)).alias("users"),
        F.sum("duration_ms").alias("duration_ms"),
    ).withColumn("computed_at", F.lit(computed_at))


def url_country_daily(sessionized: DataFrame, computed_at: str) -> DataFrame:
    rows = _event_rows(sessionized, URL_COUNTRY_DAILY_GRAIN, computed_at)
    return rows.select(
        *URL_COUNTRY_DAILY_GRAIN,
        "clicks",
        "unique_users",
        "timed_views",
        _seconds(F.col("time_ms")).alias("total_time_spent_seconds"),
        _ratio(_seconds(F.col("time_ms")), F.col("timed_views")).alias("avg_time_spent_seconds"),
        "entrances",
        "bounces",
        "bot_clicks",
        "computed_at",
    )


def sessions_daily(sessionized: DataFrame, computed_at: str) -> DataFrame:
    rows = _session_rows(sessionized, SESSIONS_DAILY_GRAIN, computed_at)
    return rows.select(
        *SESSIONS_DAILY_GRAIN,
        "sessions",
        "bounces",
        "pageviews",
        "users",
        _seconds(F.col("duration_ms")).alias("total_duration_seconds"),
        _ratio(_seconds(F.col("duration_ms")), F.col("sessions")).alias("avg_duration_seconds"),
        _ratio(F.col("bounces"), F.col("sessions")).alias("bounce_rate"),
        "computed_at",
    )


def traffic_sources_daily(sessionized: DataFrame, computed_at: str) -> DataFrame:
    rows = _session_rows(sessionized, TRAFFIC_SOURCES_DAILY_GRAIN, computed_at)
    return rows.select(*TRAFFIC_SOURCES_DAILY_GRAIN, "sessions", "bounces", "pageviews", "users", "computed_at")


def geo_daily(sessionized: DataFrame, computed_at: str) -> DataFrame:
    rows = _event_rows(sessionized, GEO_DAILY_GRAIN, computed_at)
    return rows.select(*GEO_DAILY_GRAIN, "clicks", "unique_users", F.col("entrances").alias("sessions"), "bot_clicks", "computed_at")


def traffic_hourly(sessionized: DataFrame, computed_at: str) -> DataFrame:
    with_hour = sessionized.withColumn("event_hour", utc_hour_start(F.col("event_date"), F.col("ts_ms")))
    rows = _event_rows(with_hour, TRAFFIC_HOURLY_GRAIN, computed_at)
    return rows.select(*TRAFFIC_HOURLY_GRAIN, "clicks", "unique_users", F.col("entrances").alias("sessions"), "bot_clicks", "computed_at")


URL_COUNTRY_DAILY_GRAIN = ("event_date", "page_url", "country")
SESSIONS_DAILY_GRAIN = ("event_date", "country", "device_type", "browser", "os", "channel")
TRAFFIC_SOURCES_DAILY_GRAIN = ("event_date", "channel", "referrer_host", "utm_source", "utm_medium", "utm_campaign", "country")
GEO_DAILY_GRAIN = ("event_date", "country", "city")
# event_date (the hour's date, the output partition) is part of the row and of its key.
TRAFFIC_HOURLY_GRAIN = ("event_date", "event_hour", "country", "device_type")

TABLES: Dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "url_country_daily",
            url_country_daily,
            URL_COUNTRY_DAILY_GRAIN,
            URL_COUNTRY_DAILY_GRAIN
            + ("clicks", "unique_users", "timed_views", "total_time_spent_seconds", "avg_time_spent_seconds", "entrances", "bounces", "bot_clicks", "computed_at"),
        ),
        Table(
            "sessions_daily",
            sessions_daily,
            SESSIONS_DAILY_GRAIN,
            SESSIONS_DAILY_GRAIN
            + ("sessions", "bounces", "pageviews", "users", "total_duration_seconds", "avg_duration_seconds", "bounce_rate", "computed_at"),
        ),
        Table(
            "traffic_sources_daily",
            traffic_sources_daily,
            TRAFFIC_SOURCES_DAILY_GRAIN,
            TRAFFIC_SOURCES_DAILY_GRAIN + ("sessions", "bounces", "pageviews", "users", "computed_at"),
        ),
        Table("geo_daily", geo_daily, GEO_DAILY_GRAIN, GEO_DAILY_GRAIN + ("clicks", "unique_users", "sessions", "bot_clicks", "computed_at")),
        Table(
            "traffic_hourly",
            traffic_hourly,
            TRAFFIC_HOURLY_GRAIN,
            TRAFFIC_HOURLY_GRAIN + ("clicks", "unique_users", "sessions", "bot_clicks", "computed_at"),
        ),
    )
}


def compute_tables(sessionized: DataFrame, computed_at: str) -> Dict[str, DataFrame]:
    """Every table of `TABLES`, from the same sessionized events."""
    return {name: table.compute(sessionized, computed_at).select(*table.columns) for name, table in TABLES.items()}
