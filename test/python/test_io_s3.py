"""The job's entry script end to end on the local S3 server (s3proxy, real engine; start it with
`bash local-stack/stack.sh up s3`): raw gzip NDJSON objects in a fresh bucket, the script run by
`local-stack/spark/submit.sh` (spark-submit with the package zip, s3a://), every table's part
files and the state at the keys of SPEC section 3, with the rows that oracle.py computes. Then a
second spark-submit with no new input writes nothing, and a date whose raw objects are emptied
gets the empty marker in every table (that run in the test's Spark session, over s3a:// too)."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
from typing import Any, Dict, List, Tuple

from aggregate_fixtures import CART, HOME, REPO_ROOT, SCRIPT_PATH, bot_event, event, legacy_event, ndjson_gzip, raw_key
from clickstream_job import cli
from clickstream_job.config import JobConfig
from oracle import TABLES, differences, reference_tables

SUBMIT = REPO_ROOT / "local-stack" / "spark" / "submit.sh"
SUMMARY = re.compile(r"aggregate_clicks summary (\{.*\})$", re.MULTILINE)
D1, D2 = "2026-11-01", "2026-11-02"

# (date, hour, object name, records): the raw zone of this test.
RAW: List[Tuple[str, int, str, List[Any]]] = [
    (D1, 9, "clickstream-0-0-3", [
        event("a1", "alice", "2026-11-01T09:00:00.000Z", HOME, "US", offset=0),
        event("a2", "alice", "2026-11-01T09:04:30.500Z", CART, "US", offset=1, browser=None),
        event("b1", "bob", "2026-11-01T09:10:00.000Z", HOME, "DE", offset=2, city=None, channel="direct", referrer_host=None),
        bot_event("x1", "crawler", "2026-11-01T09:11:00.000Z", HOME, "US", offset=3),
    ]),
    (D1, 23, "clickstream-1-0-1", [
        legacy_event("c1", "carol", "2026-11-01T23:50:00.000Z", CART, "FR", partition=1, offset=0),
        legacy_event("c2", "carol", "2026-11-01T23:59:59.999Z", HOME, "FR", partition=1, offset=1),
    ]),
    # A redelivered copy of a1 on another partition (higher coordinates: not counted).
    (D1, 9, "clickstream-2-7-7", [event("a1", "alice", "2026-11-01T09:00:00.000Z", CART, "GB", partition=2, offset=7)]),
    (D2, 0, "clickstream-1-2-3", [
        legacy_event("c3", "carol", "2026-11-02T00:00:00.000Z", CART, "FR", partition=1, offset=2),
        event("d1", "dave", "2026-11-02T00:20:00.000Z", HOME, "", partition=1, offset=3, utm_source="mail", utm_medium="email", channel="email"),
        "{not json",
    ]),
]  # fmt: skip


def put_raw(s3_client, bucket: str, date: str, hour: int, name: str, records: List[Any]) -> None:
    s3_client.put_object(Bucket=bucket, Key=f"events/{raw_key(date, hour, name)}", Body=ndjson_gzip(records), ContentType="application/x-ndjson")


def raw_lines(raw) -> List[Tuple[str, str]]:
    return [(date, r if isinstance(r, str) else json.dumps(r)) for date, _hour, _name, records in raw for r in records]


def submit(bucket: str) -> Dict[str, Any]:
    """Runs the entry script with spark-submit; returns its summary."""
    args = ["--raw_uri", f"s3a://{bucket}/events", "--output_uri", f"s3a://{bucket}/aggregates", "--state_uri", f"s3a://{bucket}/state/aggregates"]
    done = subprocess.run(["bash", str(SUBMIT), str(SCRIPT_PATH), *args], capture_output=True, text=True, timeout=600, cwd=REPO_ROOT)
    assert done.returncode == 0, f"spark-submit failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    summaries = SUMMARY.findall(done.stdout)
    assert len(summaries) == 1, done.stdout[-3000:]
    return json.loads(summaries[0])


def objects(s3_client, bucket: str, prefix: str = "") -> Dict[str, Tuple[str, Any]]:
    """key -> (ETag, LastModified) of every object under `prefix`."""
    result = {}
    for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        result.update({o["Key"]: (o["ETag"], o["LastModified"]) for o in page.get("Contents", [])})
    return result


def table_rows(s3_client, bucket: str, table: str) -> List[Dict[str, Any]]:
    rows = []
    for key in objects(s3_client, bucket, f"aggregates/{table}/"):
        if key.rsplit("/", 1)[1].startswith("part-"):
            body = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
            rows.extend(json.loads(line) for line in body.splitlines() if line.strip())
    return rows


def test_the_entry_script_writes_every_table_to_s3_then_nothing_new_then_the_empty_marker(s3_client, make_bucket, spark):
    bucket = make_bucket("job-io")
    for date, hour, name, records in RAW:
        put_raw(s3_client, bucket, date, hour, name, records)

    summary = submit(bucket)
    assert (summary["dates"], summary["records_read"], summary["rejected"], summary["state_written"]) == ([D1, D2], 10, {"malformed_json": 1}, True)

    # One part file per table and date at aggregates/<table>/event_date=D/, the state beside; nothing else.
    written = objects(s3_client, bucket, "aggregates/")
    part = re.compile(r"^aggregates/(\w+)/event_date=(\d{4}-\d{2}-\d{2})/part-[^/]+\.json$")
    assert all(part.match(key) for key in written), sorted(written)
    assert sorted(part.match(key).groups() for key in written) == sorted((t, d) for t in TABLES for d in (D1, D2))
    assert list(objects(s3_client, bucket, "state/")) == ["state/aggregates/state.json"]
    state = json.loads(s3_client.get_object(Bucket=bucket, Key="state/aggregates/state.json")["Body"].read())
    assert sorted(state["partitions"]) == ["dt=2026-11-01/hr=09", "dt=2026-11-01/hr=23", "dt=2026-11-02/hr=00"]

    expected = reference_tables(raw_lines(RAW), computed_at=summary["computed_at"])
    problems = [p for t in TABLES for p in differences(t, table_rows(s3_client, bucket, t), expected[t])]
    assert not problems, "\n".join(problems)
    assert sum(len(expected[t]) for t in TABLES) == summary["rows_written"] > 0

    # No new input: a second run recomputes nothing and touches no object.
    before = objects(s3_client, bucket)
    again = submit(bucket)
    assert (again["dates"], again["dates_written"], again["state_written"]) == ([], [], False)
    assert objects(s3_client, bucket) == before

    # Every record of D2 is gone from its object (as an erasure leaves it): D2 gets the empty
    # marker in every table, D1 is left as it was.
    put_raw(s3_client, bucket, D2, 0, "clickstream-1-2-3", [])
    config = JobConfig(raw_uri=f"s3a://{bucket}/events", output_uri=f"s3a://{bucket}/aggregates", state_uri=f"s3a://{bucket}/state/aggregates")
    emptied = cli.run(spark, config, now=dt.datetime(2026, 11, 5, 1, 2, 3, 456000, tzinfo=dt.timezone.utc))
    assert emptied["dates"] == [D2] and all(t["emptied"] == [D2] for t in emptied["tables"].values())
    after = objects(s3_client, bucket, "aggregates/")
    for table in TABLES:
        assert [k for k in after if k.startswith(f"aggregates/{table}/event_date={D2}/")] == [f"aggregates/{table}/event_date={D2}/_empty.json"]
        marker = json.loads(s3_client.get_object(Bucket=bucket, Key=f"aggregates/{table}/event_date={D2}/_empty.json")["Body"].read())
        assert marker == {"table": table, "event_date": D2, "rows": 0, "computed_at": "2026-11-05T01:02:03.456Z"}
    assert {k: v for k, v in after.items() if f"event_date={D1}/" in k} == {k: v for k, v in before.items() if f"event_date={D1}/" in k}
