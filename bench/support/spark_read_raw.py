"""Baseline of the end-to-end benchmark: a Spark job that only reads the raw zone and counts its
rows (the same session start-up, the same s3a input as the aggregation job, no transforms).

It lists the raw zone folder by folder, as the job does (one LIST per `dt=/hr=` folder), not with
a glob: a glob down to the object names makes Spark look up every object on its own (a HEAD and
a LIST each), which on the local S3 server cost more than reading them.

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
        rows = (
            spark.read.option("recursiveFileLookup", "true")
            .option("pathGlobFilter", "*.ndjson.gz")
            .text(argv[0].rstrip("/") + "/")
            .count()
        )
    finally:
        spark.stop()
    print(f"rows={rows}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
