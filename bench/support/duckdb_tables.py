"""The single-machine floor of the Spark job's benchmark: the job's work as DuckDB SQL.

`compute_tables` reads the same raw zone (gzip NDJSON under `dt=/hr=`), applies the same rules as
glue-scripts/clickstream_job (SPEC section 3: record checks, a record outside its date's folder
skipped, enrichment defaults, duplicates per (`event_date`, `event_id`) keeping the lowest Kafka
position, bots out of sessions, sessions per user and date with the gap rule, time on page,
entries, exits and bounces), computes the five tables and writes each as NDJSON, one folder per
`event_date` (`<out>/<table>/event_date=YYYY-MM-DD/`), as the job does. One read, one
sessionized table shared by the five.

`compare` then checks the job's output against DuckDB's, row by row (every column but
`computed_at`, doubles to 1e-6), so the baseline is known to do the same work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import duckdb
from clickstream_job.tables import TABLES as JOB_TABLES

# Kept in step with clickstream_job.schema.RAW_EVENT_SCHEMA: every field read as text.
RAW_FIELDS = (
    "event_id", "user_id", "session_id", "ts", "url", "page_url", "country", "country_raw", "city", "user_agent",
    "referrer", "device_type", "browser", "os", "is_bot", "utm_source", "utm_medium", "utm_campaign",
    "referrer_host", "channel",
)
ISO_TS_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$"

# The tables' columns, as the job writes them (clickstream_job.tables.TABLES), with DuckDB types.
_COUNT = "BIGINT"
_SECONDS = "DOUBLE"
TABLE_COLUMNS: Dict[str, Tuple[Tuple[str, str], ...]] = {
    "url_country_daily": (
        ("event_date", "VARCHAR"), ("page_url", "VARCHAR"), ("country", "VARCHAR"),
        ("clicks", _COUNT), ("unique_users", _COUNT), ("timed_views", _COUNT), ("total_time_spent_seconds", _SECONDS),
        ("avg_time_spent_seconds", _SECONDS), ("entrances", _COUNT), ("bounces", _COUNT), ("bot_clicks", _COUNT),
    ),
    "sessions_daily": (
        ("event_date", "VARCHAR"), ("country", "VARCHAR"), ("device_type", "VARCHAR"), ("browser", "VARCHAR"), ("os", "VARCHAR"),
        ("channel", "VARCHAR"), ("sessions", _COUNT), ("bounces", _COUNT), ("pageviews", _COUNT), ("users", _COUNT),
        ("total_duration_seconds", _SECONDS), ("avg_duration_seconds", _SECONDS), ("bounce_rate", _SECONDS),
    ),
    "traffic_sources_daily": (
        ("event_date", "VARCHAR"), ("channel", "VARCHAR"), ("referrer_host", "VARCHAR"), ("utm_source", "VARCHAR"),
        ("utm_medium", "VARCHAR"), ("utm_campaign", "VARCHAR"), ("country", "VARCHAR"),
        ("sessions", _COUNT), ("bounces", _COUNT), ("pageviews", _COUNT), ("users", _COUNT),
    ),
    "geo_daily": (
        ("event_date", "VARCHAR"), ("country", "VARCHAR"), ("city", "VARCHAR"),
        ("clicks", _COUNT), ("unique_users", _COUNT), ("sessions", _COUNT), ("bot_clicks", _COUNT),
    ),
    "traffic_hourly": (
        ("event_date", "VARCHAR"), ("event_hour", "VARCHAR"), ("country", "VARCHAR"), ("device_type", "VARCHAR"),
        ("clicks", _COUNT), ("unique_users", _COUNT), ("sessions", _COUNT), ("bot_clicks", _COUNT),
    ),
}
# The output order of each table: its grain, as the job defines it (the contract, not its computation).
GRAINS: Dict[str, Tuple[str, ...]] = {name: table.grain for name, table in JOB_TABLES.items()}


def _text(name: str) -> str:
    """The trimmed field, null when missing or blank (clickstream_job.parse._text)."""
    return f"nullif(trim({name}), '')"


def _raw_read(raw_glob: str) -> str:
    columns = ", ".join(f"{name}: 'VARCHAR'" for name in RAW_FIELDS)
    kafka = "kafka: 'STRUCT(topic VARCHAR, \"partition\" VARCHAR, \"offset\" VARCHAR, \"timestamp\" VARCHAR)'"
    return (
        f"read_json('{raw_glob}', format = 'newline_delimited', compression = 'gzip', hive_partitioning = true, "
        f"hive_types_autocast = false, columns = {{{columns}, {kafka}}})"
    )


def _sql_steps(raw_glob: str, gap_ms: int, computed_at: str) -> List[str]:
    events = f"""
    CREATE OR REPLACE TEMP TABLE events AS
    WITH parsed AS (
      SELECT event_id, user_id, page_url,
             coalesce({_text('country')}, 'unknown') AS country, {_text('city')} AS city,
             coalesce({_text('device_type')}, 'unknown') AS device_type, {_text('browser')} AS browser, {_text('os')} AS os,
             coalesce(lower({_text('is_bot')}) = 'true', false) AS is_bot,
             coalesce({_text('channel')}, 'unknown') AS channel, {_text('referrer_host')} AS referrer_host,
             {_text('utm_source')} AS utm_source, {_text('utm_medium')} AS utm_medium, {_text('utm_campaign')} AS utm_campaign,
             CASE WHEN regexp_full_match(ts, '{ISO_TS_PATTERN}') THEN epoch_ms(try_cast(ts AS TIMESTAMPTZ)) END AS ts_ms,
             kafka.topic AS kafka_topic, try_cast(kafka."partition" AS INTEGER) AS kafka_partition,
             try_cast(kafka."offset" AS BIGINT) AS kafka_offset, dt
      FROM {_raw_read(raw_glob)}
    ), valid AS (
      SELECT *, strftime(epoch_ms(ts_ms), '%Y-%m-%d') AS event_date FROM parsed
      WHERE nullif(trim(event_id), '') IS NOT NULL AND nullif(trim(user_id), '') IS NOT NULL
        AND ts_ms IS NOT NULL AND nullif(trim(page_url), '') IS NOT NULL
        AND strftime(epoch_ms(ts_ms), '%Y-%m-%d') = dt
    ), deduplicated AS (
      SELECT * FROM valid
      QUALIFY row_number() OVER (
        PARTITION BY event_date, event_id
        ORDER BY kafka_topic NULLS LAST, kafka_partition NULLS LAST, kafka_offset NULLS LAST,
                 user_id, page_url, country, city NULLS FIRST, device_type, browser NULLS FIRST, os NULLS FIRST,
                 is_bot, channel, referrer_host NULLS FIRST, utm_source NULLS FIRST, utm_medium NULLS FIRST,
                 utm_campaign NULLS FIRST, ts_ms) = 1
    ), neighbours AS (
      SELECT *, lag(ts_ms) OVER timeline AS previous_ts, lead(ts_ms) OVER timeline AS next_ts
      FROM deduplicated WHERE NOT is_bot
      WINDOW timeline AS (PARTITION BY user_id, event_date ORDER BY ts_ms, event_id)
    ), flagged AS (
      SELECT *, previous_ts IS NULL OR ts_ms - previous_ts > {gap_ms} AS is_entry,
             CASE WHEN next_ts - ts_ms <= {gap_ms} THEN next_ts - ts_ms END AS time_on_page_ms
      FROM neighbours
    )
    SELECT event_date, ts_ms, event_id, user_id, page_url, country, city, device_type, browser, os, channel, referrer_host,
           utm_source, utm_medium, utm_campaign, false AS is_bot, is_entry, time_on_page_ms,
           sum(is_entry::INTEGER) OVER (PARTITION BY user_id, event_date ORDER BY ts_ms, event_id ROWS UNBOUNDED PRECEDING) AS session_number
    FROM flagged
    UNION ALL
    SELECT event_date, ts_ms, event_id, user_id, page_url, country, city, device_type, browser, os, channel, referrer_host,
           utm_source, utm_medium, utm_campaign, true, false, NULL, NULL
    FROM deduplicated WHERE is_bot
    """
    sessions = """
    CREATE OR REPLACE TEMP TABLE sessions AS
    SELECT event_date, user_id, count(*) AS pageviews, max(ts_ms) - min(ts_ms) AS duration_ms,
           first(country) FILTER (WHERE is_entry) AS country, first(device_type) FILTER (WHERE is_entry) AS device_type,
           first(browser) FILTER (WHERE is_entry) AS browser, first(os) FILTER (WHERE is_entry) AS os,
           first(channel) FILTER (WHERE is_entry) AS channel, first(referrer_host) FILTER (WHERE is_entry) AS referrer_host,
           first(utm_source) FILTER (WHERE is_entry) AS utm_source, first(utm_medium) FILTER (WHERE is_entry) AS utm_medium,
           first(utm_campaign) FILTER (WHERE is_entry) AS utm_campaign
    FROM events WHERE NOT is_bot
    GROUP BY event_date, user_id, session_number
    """
    # A bounce is an entry event that is also an exit (no next event in its session).
    event_counts = """
      count(*) FILTER (WHERE NOT is_bot) AS clicks, count(DISTINCT user_id) FILTER (WHERE NOT is_bot) AS unique_users,
      count(time_on_page_ms) AS timed_views, coalesce(sum(time_on_page_ms), 0) AS time_ms,
      count(*) FILTER (WHERE is_entry) AS entrances, count(*) FILTER (WHERE is_entry AND time_on_page_ms IS NULL) AS bounces,
      count(*) FILTER (WHERE is_bot) AS bot_clicks
    """
    session_counts = """
      count(*) AS sessions, count(*) FILTER (WHERE pageviews = 1) AS bounces, sum(pageviews) AS pageviews,
      count(DISTINCT user_id) AS users, sum(duration_ms) AS duration_ms
    """
    queries = {
        "url_country_daily": f"""
          SELECT event_date, page_url, country, clicks, unique_users, timed_views, time_ms / 1000.0 AS total_time_spent_seconds,
                 CASE WHEN timed_views > 0 THEN (time_ms / 1000.0) / timed_views END AS avg_time_spent_seconds,
                 entrances, bounces, bot_clicks
          FROM (SELECT event_date, page_url, country, {event_counts} FROM events GROUP BY ALL)""",
        "sessions_daily": f"""
          SELECT event_date, country, device_type, browser, os, channel, sessions, bounces, pageviews, users,
                 duration_ms / 1000.0 AS total_duration_seconds, (duration_ms / 1000.0) / sessions AS avg_duration_seconds,
                 bounces / sessions AS bounce_rate
          FROM (SELECT event_date, country, device_type, browser, os, channel, {session_counts} FROM sessions GROUP BY ALL)""",
        "traffic_sources_daily": f"""
          SELECT event_date, channel, referrer_host, utm_source, utm_medium, utm_campaign, country, sessions, bounces, pageviews, users
          FROM (SELECT event_date, channel, referrer_host, utm_source, utm_medium, utm_campaign, country, {session_counts}
                FROM sessions GROUP BY ALL)""",
        "geo_daily": f"""
          SELECT event_date, country, city, clicks, unique_users, entrances AS sessions, bot_clicks
          FROM (SELECT event_date, country, city, {event_counts} FROM events GROUP BY ALL)""",
        "traffic_hourly": f"""
          SELECT event_date, event_hour, country, device_type, clicks, unique_users, entrances AS sessions, bot_clicks
          FROM (SELECT event_date, strftime(epoch_ms(ts_ms), '%Y-%m-%dT%H:00:00.000Z') AS event_hour, country, device_type,
                       {event_counts}
                FROM events GROUP BY ALL)""",
    }
    steps = [events, sessions]
    for name, query in queries.items():
        steps.append(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT *, '{computed_at}' AS computed_at FROM ({query})")
    return steps


def connect(threads: int) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute(f"SET threads = {int(threads)}")
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute("SET preserve_insertion_order = false")
    return connection


def compute_tables(connection: duckdb.DuckDBPyConnection, raw_folder: Path, out_folder: Path, gap_minutes: int, computed_at: str) -> Dict[str, int]:
    """Computes and writes the five tables; returns their row counts."""
    for step in _sql_steps(f"{raw_folder}/dt=*/hr=*/*.json.gz", gap_minutes * 60_000, computed_at):
        connection.execute(step)
    out_folder.mkdir(parents=True, exist_ok=True)
    rows: Dict[str, int] = {}
    for name, grain in GRAINS.items():
        connection.execute(
            f"COPY (SELECT * FROM {name} ORDER BY {', '.join(grain)}) TO '{out_folder / name}' "
            "(FORMAT json, PARTITION_BY (event_date), WRITE_PARTITION_COLUMNS true, OVERWRITE_OR_IGNORE true)"
        )
        rows[name] = connection.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
    return rows


def compare(connection: duckdb.DuckDBPyConnection, job_out: Path, tables: Sequence[str]) -> Dict[str, Tuple[int, int, int]]:
    """Per table: (job rows, DuckDB rows, rows in one and not the other), comparing every column
    but `computed_at` (doubles rounded to 6 decimals). Reads the job's files as written."""
    result: Dict[str, Tuple[int, int, int]] = {}
    for name in tables:
        columns = TABLE_COLUMNS[name]
        spec = ", ".join(f"{c}: '{t}'" for c, t in columns)
        job = f"read_json('{job_out / name}/event_date=*/part-*.json', format = 'newline_delimited', columns = {{{spec}}})"
        select = ", ".join(f"round({c}, 6) AS {c}" if t == _SECONDS else c for c, t in columns)
        connection.execute(f"CREATE OR REPLACE TEMP TABLE job_{name} AS SELECT {select} FROM {job}")
        job_rows = connection.execute(f"SELECT count(*) FROM job_{name}").fetchone()[0]
        ours = f"SELECT {select} FROM {name}"
        differing = connection.execute(
            f"SELECT (SELECT count(*) FROM (SELECT * FROM job_{name} EXCEPT ALL {ours})) "
            f"+ (SELECT count(*) FROM ({ours} EXCEPT ALL SELECT * FROM job_{name}))"
        ).fetchone()[0]
        result[name] = (job_rows, connection.execute(f"SELECT count(*) FROM {name}").fetchone()[0], differing)
    return result
