"""Entry script of the Glue job (and of local spark-submit runs): the code is the
`clickstream_job` package, shipped beside it with `--extra-py-files` (Glue) or
`spark.submit.pyFiles` (local). See docs/processing.md."""

import sys

from clickstream_job.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv))
