"""The raw record as the job reads it (SPEC section 2), and the defaults of enrichment fields.

Every field is read as a string: the raw zone is written by our own ingest function, but a number
where a string was expected (or the reverse, e.g. Kafka offsets that kafkajs hands out as strings,
or `is_bot` written as a JSON boolean) must not turn a whole record into a corrupt one. Spark's
JSON reader gives the text of any scalar for a string field (`true`, `42`). Types are enforced in
`parse.parse_events`.
"""

from __future__ import annotations

from typing import Dict, Optional

from pyspark.sql import types as T

# Enrichment computed once at ingest (SPEC section 2). Records written before a field existed are
# read with its default: these.
ENRICHMENT_DEFAULTS: Dict[str, Optional[str]] = {
    "device_type": "unknown",
    "browser": None,
    "os": None,
    "utm_source": None,
    "utm_medium": None,
    "utm_campaign": None,
    "referrer_host": None,
    "channel": "unknown",
}
# `is_bot` defaults to false; `country` missing or blank is `unknown`; `city` missing or blank is null.

_STRING_FIELDS = (
    "event_id",
    "user_id",
    "session_id",
    "ts",
    "url",
    "page_url",
    "country",
    "country_raw",
    "city",
    "user_agent",
    "referrer",
    "device_type",
    "browser",
    "os",
    "is_bot",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "referrer_host",
    "channel",
)

RAW_EVENT_SCHEMA = T.StructType(
    [T.StructField(name, T.StringType()) for name in _STRING_FIELDS]
    + [
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

# Why parse_events rejects a record (its `reject_reason`), in the order the checks apply.
# `date_outside_partition`: a record whose UTC date is not the date of the `dt=` folder it was
# read from; counting it would make a date's figures depend on another date's partitions.
REJECT_REASONS = ("malformed_json", "missing_event_id", "missing_user_id", "invalid_ts", "missing_page_url", "date_outside_partition")
