"""Local Spark reads and writes the local S3 server through s3a:// with the settings of
local-stack/spark/local_spark.py, the way the aggregation job does on Glue: NDJSON in and out,
gzip input, dynamic partition overwrite. Fails (not skips) when the S3 server is not running."""

from __future__ import annotations

import gzip
import json

from pyspark.sql import Row


def test_a_dataframe_written_as_json_to_s3a_reads_back_identical(s3_client, bucket, spark):
    rows = [
        Row(page_url="https://shop.example.com/", country="US", clicks=3, avg_time_spent_seconds=12.5),
        Row(page_url="https://shop.example.com/cart", country="DE", clicks=1, avg_time_spent_seconds=None),
    ]
    spark.createDataFrame(rows).coalesce(1).write.mode("overwrite").json(f"s3a://{bucket}/out/")

    # Written by s3a into the bucket as Spark part files plus the _SUCCESS marker.
    keys = [item["Key"] for item in s3_client.list_objects_v2(Bucket=bucket, Prefix="out/")["Contents"]]
    assert "out/_SUCCESS" in keys
    parts = [key for key in keys if key.startswith("out/part-") and key.endswith(".json")]
    assert len(parts) == 1
    lines = s3_client.get_object(Bucket=bucket, Key=parts[0])["Body"].read().decode().splitlines()
    assert sorted(json.loads(line)["page_url"] for line in lines) == ["https://shop.example.com/", "https://shop.example.com/cart"]

    back = spark.read.schema(spark.createDataFrame(rows).schema).json(f"s3a://{bucket}/out/")
    assert sorted(back.collect(), key=lambda row: row.page_url) == rows


def test_gzip_ndjson_put_with_boto3_is_read_by_spark(s3_client, bucket, spark):
    records = [
        {"event_id": "clickstream-0-7", "user_id": "u1", "ts": "2024-05-01T10:00:00.000Z", "country": "US"},
        {"event_id": "clickstream-0-8", "user_id": "u2", "ts": "2024-05-01T10:00:05.000Z", "country": "unknown"},
        {"event_id": "clickstream-0-9", "user_id": "u1", "ts": "2024-05-01T10:03:00.000Z", "country": "US"},
    ]
    body = gzip.compress("".join(json.dumps(record) + "\n" for record in records).encode())
    key = "events/dt=2024-05-01/hr=10/clickstream-0-7-9.ndjson.gz"
    s3_client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/x-ndjson")

    df = spark.read.json(f"s3a://{bucket}/events/")
    # The Hive-style folders become partition columns, as the job relies on.
    assert set(df.columns) >= {"event_id", "user_id", "ts", "country", "dt", "hr"}
    got = sorted((row.event_id, row.user_id, row.country, str(row.dt), row.hr) for row in df.collect())
    assert got == [
        ("clickstream-0-7", "u1", "US", "2024-05-01", 10),
        ("clickstream-0-8", "u2", "unknown", "2024-05-01", 10),
        ("clickstream-0-9", "u1", "US", "2024-05-01", 10),
    ]


def test_overwrite_replaces_only_the_partitions_written(s3_client, bucket, spark):
    target = f"s3a://{bucket}/aggregates/url_country_daily/"
    first = spark.createDataFrame(
        [Row(event_date="2024-05-01", clicks=1), Row(event_date="2024-05-02", clicks=2)]
    )
    first.write.mode("overwrite").partitionBy("event_date").json(target)
    spark.createDataFrame([Row(event_date="2024-05-02", clicks=20)]).write.mode("overwrite").partitionBy(
        "event_date"
    ).json(target)

    got = sorted((str(row.event_date), row.clicks) for row in spark.read.json(target).collect())
    # 2024-05-01 was not written by the second run, so dynamic overwrite left it alone.
    assert got == [("2024-05-01", 1), ("2024-05-02", 20)]
    keys = [item["Key"] for item in s3_client.list_objects_v2(Bucket=bucket, Prefix="aggregates/")["Contents"]]
    assert any(key.startswith("aggregates/url_country_daily/event_date=2024-05-01/part-") for key in keys)
    assert not any("_temporary" in key or ".spark-staging" in key for key in keys)
