"""The one place that says how local Spark runs: `local_spark_conf()`.

Used by `local-stack/spark/submit.sh` (through `python local_spark.py --submit-args`) and by
`test/python/conftest.py`, so a job run by hand and a job run by a test see the same Spark:
local[2], the s3a connector pointed at the local S3 server with path-style addressing and
the local test credentials, dynamic partition overwrite, UTC session time zone, no UI, and the
job's package (glue-scripts/clickstream_job) as a zip in `spark.submit.pyFiles`.

Defaults come from `local-stack/env.sh` (run in bash, so there is a single copy of them);
variables already set in the environment win, as they do for the shell scripts.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from typing import Mapping

SPARK_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(SPARK_DIR))
ENV_SH = os.path.join(REPO_ROOT, "local-stack", "env.sh")
JOB_SOURCE = os.path.join(REPO_ROOT, "glue-scripts")
JOB_PACKAGE = "clickstream_job"


def stack_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment as the local-stack scripts see it: `base` (default os.environ) plus
    every default that local-stack/env.sh fills in."""
    result = subprocess.run(
        ["bash", "-c", 'source "$1" >/dev/null && env -0', "env.sh", ENV_SH],
        env=dict(os.environ if base is None else base),
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"sourcing {ENV_SH} failed: {result.stderr.decode(errors='replace')}")
    pairs = (item.split("=", 1) for item in result.stdout.decode().split("\0") if "=" in item)
    return {key: value for key, value in pairs}


def job_package_zip(target_dir: str) -> str:
    """Zips glue-scripts/clickstream_job (the package at the zip root, as the CDK asset deploys it
    for Glue's --extra-py-files) into `target_dir` and returns the zip's path.

    Rebuilt on every call from the current sources; written beside and renamed into place, so a
    concurrent run never sees half a zip. Caches (`__pycache__`, `*.pyc`) are left out.
    """
    os.makedirs(target_dir, exist_ok=True)
    target = os.path.join(target_dir, f"{JOB_PACKAGE}.zip")
    fd, partial = tempfile.mkstemp(prefix=f".{JOB_PACKAGE}-", suffix=".zip", dir=target_dir)
    os.close(fd)
    try:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for folder, dirs, names in os.walk(os.path.join(JOB_SOURCE, JOB_PACKAGE)):
                dirs[:] = sorted(d for d in dirs if d != "__pycache__")
                for name in sorted(names):
                    if name.endswith(".py"):
                        path = os.path.join(folder, name)
                        archive.write(path, os.path.relpath(path, JOB_SOURCE))
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return target


def local_spark_conf(env: Mapping[str, str] | None = None, python: str | None = None) -> dict[str, str]:
    """Spark settings for a local run. `env` defaults to `stack_env()`; `python` is the
    interpreter for the driver and the Python workers (default: the venv's)."""
    env = stack_env() if env is None else env
    endpoint = env["S3_ENDPOINT"]
    python = python or os.path.join(env["VENV"], "bin", "python")
    spark_data = os.path.join(env["LOCAL_STACK_HOME"], "data", "spark")
    s3a = {
        "endpoint": endpoint,
        "endpoint.region": env["AWS_REGION"],
        # The local server has no virtual-host DNS names: bucket in the path.
        "path.style.access": "true",
        "connection.ssl.enabled": str(endpoint.startswith("https://")).lower(),
        "aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
        "access.key": env["AWS_ACCESS_KEY_ID"],
        "secret.key": env["AWS_SECRET_ACCESS_KEY"],
        # A stopped server should fail a job in seconds, not after minutes of retries
        # (defaults: 20 SDK attempts x 7 s3a retries, 200 s socket timeout).
        "attempts.maximum": "3",
        "retry.limit": "3",
        "connection.establish.timeout": "5000",
        "connection.timeout": "60000",
    }
    conf = {
        "spark.master": "local[2]",
        "spark.app.name": "clickstream-local",
        # On the driver's class path rather than spark.jars: in local mode the executor lives in
        # the driver JVM, and spark.jars would make it copy the 280 MB SDK bundle through Spark's
        # file server at the first task of every session (about 35 s on 2 cores).
        "spark.driver.extraClassPath": os.pathsep.join(env["SPARK_JARS"].split(",")),
        "spark.driver.memory": env.get("SPARK_DRIVER_MEMORY", "4g"),
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.extraJavaOptions": "-Dlog4j.configurationFile=file:"
        + os.path.join(SPARK_DIR, "log4j2.properties"),
        "spark.pyspark.python": python,
        "spark.pyspark.driver.python": python,
        "spark.ui.enabled": "false",
        # As in AWS Glue: an overwrite replaces only the partitions the job writes.
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        # Event dates are UTC dates (SPEC section 3); never the laptop's zone.
        "spark.sql.session.timeZone": "UTC",
        # 2 cores: the default 200 shuffle partitions would be 200 tiny tasks per stage.
        "spark.sql.shuffle.partitions": "4",
        "spark.sql.warehouse.dir": os.path.join(spark_data, "warehouse"),
        "spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        # The job's package, zipped as Glue gets it with --extra-py-files: the driver and the
        # Python workers import it from there (workers do not inherit the driver's sys.path).
        "spark.submit.pyFiles": job_package_zip(os.path.join(spark_data, "py")),
    }
    conf.update({f"spark.hadoop.fs.s3a.{key}": value for key, value in s3a.items()})
    return conf


# spark-submit options that have a flag of their own; the rest go as --conf key=value.
_SUBMIT_FLAGS = {
    "spark.master": "--master",
    "spark.driver.memory": "--driver-memory",
    "spark.driver.extraClassPath": "--driver-class-path",
}


def submit_args(conf: Mapping[str, str]) -> list[str]:
    args: list[str] = []
    for key, value in conf.items():
        if key in _SUBMIT_FLAGS:
            args += [_SUBMIT_FLAGS[key], value]
        else:
            args += ["--conf", f"{key}={value}"]
    return args


def main(argv: list[str]) -> int:
    if argv != ["--submit-args"]:
        print("usage: local_spark.py --submit-args   (prints spark-submit options, one per line)", file=sys.stderr)
        return 2
    for arg in submit_args(local_spark_conf()):
        if "\n" in arg:
            raise ValueError(f"spark option with a newline: {arg!r}")
        print(arg)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
