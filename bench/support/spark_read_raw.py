"""Baseline of the end-to-end benchmark: a Spark job that only reads the raw zone and counts its
rows (the same session start-up, the same s3a input as the aggregation job, no transforms).

    bash local-stack/spark/submit.sh bench/support/spark_read_raw.py s3a://BUCKET/events/
Prints one line: rows=<n>.
"""
import sys

from pyspark.sql import SparkSession


def main(argv):
    if len(argv) != 1:
        print("usage: spark_read_raw.py RAW_EVENTS_URI", file=sys.stderr)
        return 2
    spark = SparkSession.builder.getOrCreate()
    try:
        rows = spark.read.text(argv[0].rstrip("/") + "/*/*/*.ndjson.gz").count()
    finally:
        spark.stop()
    print(f"rows={rows}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
