"""The job end to end against the local S3 server: gzip NDJSON put with boto3, the script run
with spark-submit (local-stack/spark/submit.sh, s3a://) exactly as an operator would, the
aggregate objects read back with boto3; then runs again over s3a (nothing new, a backfill, late
data) and compares."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import subprocess

from aggregate_fixtures import REPO_ROOT, SCRIPT_PATH, event, load_job_module, ndjson_gzip, raw_key, rows_by_key, without_computed_at

job = load_job_module()

HOME = "https://shop.example.com/home"
CART = "https://shop.example.com/cart"
OUTPUT_PREFIX = "aggregates/url_country_daily/"
STATE_KEY = "state/url_country_daily/state.json"


def submit(*args: str) -> dict:
    result = subprocess.run(
        ["bash", str(REPO_ROOT / "local-stack" / "spark" / "submit.sh"), str(SCRIPT_PATH), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "SPARK_DRIVER_MEMORY": "1g"},
    )
    assert result.returncode == 0, f"spark-submit failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    summaries = re.findall(r"aggregate_clicks summary (\{.*\})", result.stdout)
    assert len(summaries) == 1, result.stdout[-3000:]
    return json.loads(summaries[0])


def listing(s3, bucket):
    objects = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: (o["ETag"], o["LastModified"]) for o in objects}


def output_rows(s3, bucket):
    rows = []
    for key in sorted(listing(s3, bucket)):
        if key.startswith(OUTPUT_PREFIX):
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
            rows += [json.loads(line) for line in body.splitlines() if line.strip()]
    return rows


def test_the_script_end_to_end_on_the_local_s3_server(spark, s3_client, make_bucket):
    raw_bucket = make_bucket("raw")
    agg_bucket = make_bucket("agg")
    batch_1 = [
        event("clickstream-0-0", "alice", "2026-11-01T23:45:00.000Z", HOME, offset=0),
        event("clickstream-0-1", "bob", "2026-11-01T23:50:00.000Z", CART, "DE", offset=1),
    ]
    batch_2 = [
        event("clickstream-0-2", "alice", "2026-11-02T00:00:30.000Z", CART, offset=2),
        event("clickstream-0-3", "carol", "2026-11-02T09:00:00.000Z", HOME, "unknown", offset=3),
    ]
    puts = {
        raw_key("2026-11-01", 23, "clickstream-0-0-1"): batch_1,
        raw_key("2026-11-02", 0, "clickstream-0-2-2"): batch_2[:1],
        raw_key("2026-11-02", 9, "clickstream-0-3-3"): batch_2[1:],
        # The same event delivered again inside a batch with other boundaries.
        raw_key("2026-11-01", 23, "clickstream-0-1-1"): batch_1[1:],
    }
    for key, records in puts.items():
        s3_client.put_object(Bucket=raw_bucket, Key="events/" + key, Body=ndjson_gzip(records))
    uris = [
        "--raw_uri", f"s3a://{raw_bucket}/events",
        "--output_uri", f"s3a://{agg_bucket}/aggregates/url_country_daily",
        "--state_uri", f"s3a://{agg_bucket}/state/url_country_daily",
    ]  # fmt: skip

    first = submit(*uris)
    assert first["dates_written"] == ["2026-11-01", "2026-11-02"]
    objects = listing(s3_client, agg_bucket)
    outputs = sorted(k for k in objects if k != STATE_KEY)
    assert len(outputs) == 2, objects
    assert all(re.fullmatch(r"aggregates/url_country_daily/event_date=2026-11-0[12]/part-[^/]+\.json", k) for k in outputs)
    rows = rows_by_key(output_rows(s3_client, agg_bucket))
    assert rows[("2026-11-01", CART, "DE")]["clicks"] == 1, "the redelivered event counts once"
    assert rows[("2026-11-01", HOME, "US")]["total_time_spent_seconds"] == 930.0, "time across midnight"
    assert rows[("2026-11-02", HOME, "unknown")]["avg_time_spent_seconds"] is None
    assert len({r["computed_at"] for r in rows.values()}) == 1

    # Again (in this process's Spark session: one JVM start is enough), nothing new: not a
    # single object written, not even the state.
    incremental = job.JobConfig(raw_uri=uris[1], output_uri=uris[3], state_uri=uris[5])
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)
    second = job.run(spark, incremental, now=later)
    assert second["dates"] == [] and second["state_written"] is False
    assert listing(s3_client, agg_bucket) == objects

    # A backfill of the same dates over the same input gives the same rows, in new objects.
    job.run(spark, dataclasses.replace(incremental, dates=("2026-11-01", "2026-11-02")), now=later)
    assert without_computed_at(output_rows(s3_client, agg_bucket)) == without_computed_at(rows.values())
    replaced = listing(s3_client, agg_bucket)
    assert sorted(k for k in replaced if k != STATE_KEY) != outputs
    assert replaced[STATE_KEY] == objects[STATE_KEY]

    # Late data for 2026-11-02 00h recomputes 11-01 and 11-02 from S3 and records it in the state.
    s3_client.put_object(
        Bucket=raw_bucket,
        Key="events/" + raw_key("2026-11-02", 0, "clickstream-1-0-0"),
        Body=ndjson_gzip([event("clickstream-1-0", "bob", "2026-11-02T00:01:00.000Z", HOME, "DE", partition=1)]),
    )
    late = job.run(spark, incremental, now=later)
    assert late["changed_dates"] == ["2026-11-02"] and late["dates_written"] == ["2026-11-01", "2026-11-02"]
    rows = rows_by_key(output_rows(s3_client, agg_bucket))
    assert rows[("2026-11-01", CART, "DE")]["total_time_spent_seconds"] == 660.0
    state = json.loads(s3_client.get_object(Bucket=agg_bucket, Key=STATE_KEY)["Body"].read())
    assert "dt=2026-11-02/hr=00" in state["partitions"] and state["raw_uri"] == uris[1]
