"""clickstream_job.config: the frozen JobConfig and the --dates syntax (plain Python)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from clickstream_job.config import JobConfig, format_instant, parse_dates_argument

URIS = dict(raw_uri="s3a://raw/events", output_uri="s3a://agg/aggregates", state_uri="s3a://agg/state/aggregates")


def test_jobconfig_is_frozen_and_sorts_backfill_dates():
    config = JobConfig(**URIS, dates=("2026-11-03", "2026-11-01", "2026-11-03"))
    assert config.dates == ("2026-11-01", "2026-11-03")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.session_gap_minutes = 10  # type: ignore[misc]


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"raw_uri": " "}, "raw_uri"),
        ({"session_gap_minutes": 0}, "session gap"),
        ({"session_gap_minutes": 1441}, "session gap"),
        ({"session_gap_minutes": True}, "session gap"),
        ({"lookback_days": -1}, "lookback_days"),
        ({"dates": ()}, "dates must not be empty"),
        ({"dates": ("2026-02-30",)}, "not a valid date"),
    ],
)
def test_jobconfig_refuses_invalid_values(overrides, message):
    with pytest.raises(ValueError, match=message):
        JobConfig(**{**URIS, **overrides})


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-11-01", ["2026-11-01"]),
        ("2026-11-02, 2026-11-01,2026-11-02", ["2026-11-01", "2026-11-02"]),
        ("2026-02-27..2026-03-01", ["2026-02-27", "2026-02-28", "2026-03-01"]),
        ("2026-11-05,2026-10-30..2026-11-01", ["2026-10-30", "2026-10-31", "2026-11-01", "2026-11-05"]),
    ],
)
def test_parse_dates_argument_takes_dates_and_ranges(text, expected):
    assert parse_dates_argument(text) == expected


@pytest.mark.parametrize("text", ["2026-11-1", "2026-02-30", "yesterday", "2026-11-03..2026-11-01", ",", "2026-11-01.."])
def test_parse_dates_argument_rejects_bad_text_clearly(text):
    with pytest.raises(ValueError, match="--dates"):
        parse_dates_argument(text)


def test_format_instant_is_utc_with_milliseconds():
    instant = dt.datetime(2026, 11, 4, 7, 0, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert format_instant(instant) == "2026-11-04T06:00:00.123Z"
