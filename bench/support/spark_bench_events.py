"""The generated raw zone of the Spark job's benchmark (bench/spark_aggregate_bench.py).

`generate` writes `events` enriched click events (SPEC section 2 fields, as the ingest function
stores them) plus about 1% redelivered copies as gzip NDJSON under `dt=YYYY-MM-DD/hr=HH/`, with
Spark itself (seconds for millions of events). Every value is a pure function of the event's
number, so two runs of one size read the same bytes' worth of events.

The stream, per user (about 40 events each, from a start spread over a day): a click every 2
minutes or so, and a pause of over an hour (a new session) every k clicks, k from 1 to 8 per user,
so about a third of the sessions are bounces and a user's events span 5 to 45 hours, across
midnight (where sessions end). One user in 20 is a crawler (`is_bot`);
humans come on desktops, phones, tablets and TVs with a few browsers and systems (some null),
from about 30 countries (some `unknown`), some without a city; each event has a referrer and
campaign mix (direct, search, social, referral, internal, paid, email), so every table has
rows of every kind, null grain values included.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pyspark.sql import Column, SparkSession
from pyspark.sql import functions as F

COUNTRIES = "US DE FR GB NL ES IT PL SE NO DK FI BE AT CH IE PT CZ HU RO BR MX CA AU NZ JP KR IN SG unknown".split()
CITIES = [
    "Berlin", "Hamburg", "Paris", "Lyon", "London", "Leeds", "Amsterdam", "Madrid", "Rome", "Warsaw", "Stockholm",
    "Oslo", "New York", "Austin", "Seattle", "Toronto", "Sydney", "Tokyo", "Seoul", "Mumbai", "São Paulo",
]
# (device_type, browser, os), chosen per user.
HUMAN_DEVICES = [
    ("desktop", "Chrome", "Windows"),
    ("desktop", "Chrome", "Windows"),
    ("desktop", "Edge", "Windows"),
    ("desktop", "Firefox", "Linux"),
    ("desktop", "Safari", "macOS"),
    ("desktop", None, None),
    ("mobile", "Mobile Safari", "iOS"),
    ("mobile", "Chrome Mobile", "Android"),
    ("mobile", "Chrome Mobile", "Android"),
    ("mobile", "Samsung Internet", "Android"),
    ("tablet", "Mobile Safari", "iOS"),
    ("other", None, "Tizen"),
]
BOT_DEVICES = [("bot", "Googlebot", None), ("bot", None, None), ("bot", "curl", None)]
# (referrer host, channel, utm_source, utm_medium, utm_campaign), chosen per event; a session
# takes its entry event's.
SOURCES = [
    (None, "direct", None, None, None),
    (None, "direct", None, None, None),
    ("google.com", "search", None, None, None),
    ("google.co.uk", "search", None, None, None),
    ("bing.com", "search", None, None, None),
    ("facebook.com", "social", None, None, None),
    ("t.co", "social", None, None, None),
    ("news.example.org", "referral", None, None, None),
    ("shop.example.com", "internal", None, None, None),
    ("shop.example.com", "internal", None, None, None),
    ("google.com", "paid", "google", "cpc", "winter-sale"),
    (None, "email", "newsletter", "email", "weekly-42"),
    ("facebook.com", "social", "facebook", "social", "winter-sale"),
    ("partner.example.net", "campaign", "partner", "affiliate", None),
]
PAGES = 500
REDELIVERED_EVERY = 100  # one event in 100 is delivered twice (same event, a later offset)


def _pick(values: list, index: Column) -> Column:
    """`values[index]` (index 0-based, already reduced modulo len(values)) as a Spark column."""
    return F.element_at(F.array(*[F.lit(v).cast("string") for v in values]), (index + 1).cast("int"))


def generate(spark: SparkSession, events: int, folder: Path) -> int:
    """Writes the raw zone of `events` events into `folder`; returns the number of records written."""
    users = max(1, events // 40)
    base_ms = int(dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc).timestamp() * 1000)
    user = F.col("id") % users
    seq = (F.col("id") / users).cast("long")
    user_hash = F.abs(F.hash(user, F.lit(3)))
    event_hash = F.abs(F.hash(F.col("id"), F.lit(5)))
    ts_ms = (
        F.lit(base_ms)
        + (F.abs(F.hash(user)) % 86_400_000)
        + seq * 120_000
        + (seq / (F.floor(user_hash / 7) % 8 + 1)).cast("long") * 3_900_000
        + F.abs(F.hash(F.col("id"), F.lit(7))) % 60_000
    )
    is_bot = user_hash % 20 == 0
    human_device = user_hash % len(HUMAN_DEVICES)
    bot_device = user_hash % len(BOT_DEVICES)
    device = lambda i: F.when(is_bot, _pick([d[i] for d in BOT_DEVICES], bot_device)).otherwise(_pick([d[i] for d in HUMAN_DEVICES], human_device))  # noqa: E731
    source_index = event_hash % len(SOURCES)
    source = lambda i: _pick([s[i] for s in SOURCES], source_index)  # noqa: E731
    country = _pick(COUNTRIES, F.abs(F.hash(user)) % len(COUNTRIES))
    page = F.concat(F.lit("https://shop.example.com/p/"), F.abs(F.hash(F.col("id"), F.lit(1))) % PAGES)
    utm_query = F.when(
        source(2).isNotNull(),
        F.concat(F.lit("?utm_source="), source(2), F.lit("&utm_medium="), source(3), F.coalesce(F.concat(F.lit("&utm_campaign="), source(4)), F.lit(""))),
    ).otherwise(F.lit(""))
    ts = (ts_ms / 1000).cast("timestamp")
    frame = spark.range(events).select(
        F.concat(F.lit("clickstream-"), F.col("id")).alias("event_id"),
        F.concat(F.lit("user-"), user).alias("user_id"),
        F.lit(None).cast("string").alias("session_id"),
        F.date_format(ts, "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").alias("ts"),
        F.concat(page, utm_query).alias("url"),
        page.alias("page_url"),
        country.alias("country"),
        F.lit(None).cast("string").alias("country_raw"),
        F.when(user_hash % 8 != 0, _pick(CITIES, user_hash % len(CITIES))).alias("city"),
        F.concat(F.lit("Mozilla/5.0 (bench "), user_hash % 700, F.lit(")")).alias("user_agent"),
        F.when(source(0).isNotNull(), F.concat(F.lit("https://"), source(0), F.lit("/"))).alias("referrer"),
        device(0).alias("device_type"),
        device(1).alias("browser"),
        device(2).alias("os"),
        is_bot.alias("is_bot"),
        source(2).alias("utm_source"),
        source(3).alias("utm_medium"),
        source(4).alias("utm_campaign"),
        source(0).alias("referrer_host"),
        source(1).alias("channel"),
        F.struct(
            F.lit("clickstream").alias("topic"),
            (F.col("id") % 3).alias("partition"),
            F.col("id").alias("offset"),
            ts_ms.alias("timestamp"),
        ).alias("kafka"),
        F.date_format(ts, "yyyy-MM-dd").alias("dt"),
        F.date_format(ts, "HH").alias("hr"),
    )
    # A redelivered copy: the same event at a later offset of the same partition.
    redelivered = frame.where(F.col("kafka.offset") % REDELIVERED_EVERY == 7).withColumn(
        "kafka", F.struct("kafka.topic", "kafka.partition", (F.col("kafka.offset") + events).alias("offset"), "kafka.timestamp")
    )
    (
        frame.unionByName(redelivered)
        .repartition(16, "dt", "hr")
        .write.mode("overwrite")
        .partitionBy("dt", "hr")
        .option("compression", "gzip")
        .option("ignoreNullFields", "false")
        .json(str(folder))
    )
    return events + len(range(7, events, REDELIVERED_EVERY))
