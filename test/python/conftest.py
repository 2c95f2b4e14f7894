"""Fixtures for the pytest suites: local Spark and the local S3 server (local-stack/).

- `spark`: one SparkSession per test run, with exactly the settings of
  `local-stack/spark/submit.sh` (both take them from `local_spark.local_spark_conf()`): local[2],
  s3a:// pointed at the local S3 server, dynamic partition overwrite, UTC.
- `s3_endpoint`: the local S3 server's URL; FAILS (never skips) when nothing answers there.
- `s3_client`: a boto3 S3 client for it; `make_bucket()` / `bucket`: fresh buckets per test,
  emptied and deleted afterwards.

Start the server first: `bash local-stack/stack.sh up s3` (scripts/test-all.sh does it).
Run with the venv's Python: `.local-stack/venv/bin/python -m pytest`.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Callable, Iterator, List

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "local-stack" / "spark"))

from local_spark import local_spark_conf, stack_env  # noqa: E402

# The defaults of local-stack/env.sh, for this process and the Spark JVM it starts
# (JAVA_HOME, S3_ENDPOINT, AWS_* test credentials, ...). Variables already set win.
STACK_ENV = stack_env()
for _key, _value in STACK_ENV.items():
    os.environ.setdefault(_key, _value)
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


def _s3_answer(endpoint: str) -> str | None:
    """None when the server answers HTTP (any status), else why not."""
    try:
        urllib.request.urlopen(endpoint + "/", timeout=3).close()
        return None
    except urllib.error.HTTPError:
        return None
    except (urllib.error.URLError, OSError) as error:
        return str(getattr(error, "reason", error))


@pytest.fixture(scope="session")
def s3_endpoint() -> str:
    endpoint = STACK_ENV["S3_ENDPOINT"]
    problem = _s3_answer(endpoint)
    if problem is not None:
        pytest.fail(
            f"the local S3 server does not answer at {endpoint} ({problem}); "
            "start it with `bash local-stack/stack.sh up s3`",
            pytrace=False,
        )
    return endpoint


@pytest.fixture(scope="session")
def s3_client(s3_endpoint: str):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name=STACK_ENV["AWS_REGION"],
        aws_access_key_id=STACK_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=STACK_ENV["AWS_SECRET_ACCESS_KEY"],
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2, "mode": "standard"}),
    )


def _delete_bucket(client, name: str) -> None:
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=name):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=name, Delete={"Objects": keys, "Quiet": True})
    client.delete_bucket(Bucket=name)


@pytest.fixture
def make_bucket(s3_client) -> Iterator[Callable[[str], str]]:
    """`make_bucket(prefix)` creates a bucket with a name no other test uses and returns the name.
    Every bucket made this way is emptied and deleted when the test ends."""
    made: List[str] = []

    def make(prefix: str = "test") -> str:
        name = f"{prefix.lower()[:40]}-{uuid.uuid4().hex[:16]}"
        s3_client.create_bucket(Bucket=name)
        made.append(name)
        return name

    yield make
    for name in made:
        _delete_bucket(s3_client, name)


@pytest.fixture
def bucket(make_bucket) -> str:
    """A fresh, empty bucket for this test."""
    return make_bucket("pytest")


@pytest.fixture(scope="session")
def spark():
    java_home = os.environ.get("JAVA_HOME", "")
    if not java_home or not os.access(os.path.join(java_home, "bin", "java"), os.X_OK):
        pytest.fail("no Java 17 for Spark: set JAVA_HOME or install openjdk-17 (see local-stack/README.md)", pytrace=False)
    missing = [jar for jar in STACK_ENV["SPARK_JARS"].split(",") if not os.path.isfile(jar)]
    if missing:
        pytest.fail(
            f"the s3a jars are missing ({', '.join(missing)}); run `bash local-stack/stack.sh install spark`",
            pytrace=False,
        )
    from pyspark.sql import SparkSession

    builder = SparkSession.builder
    for key, value in local_spark_conf(STACK_ENV, python=sys.executable).items():
        builder = builder.config(key, value)
    session = builder.config("spark.ui.showConsoleProgress", "false").getOrCreate()
    yield session
    session.stop()
