#!/usr/bin/env bash
# `npm run bench`: every benchmark in bench/, each printing its figure beside a baseline measured
# in the same run. Benchmarks are not tests: they assert nothing about time.
set -uo pipefail
cd "$(dirname "$0")/.."
source local-stack/env.sh
bash local-stack/stack.sh up || exit 1
rc=0
only="${1:-}"
# Benchmarks of Lambda function code also run under the Node.js major the functions run in AWS.
lambda_code_benches="ingest-core indexer"
for f in bench/*.bench.ts; do
  [ -e "$f" ] || continue
  [ -n "$only" ] && [[ "$f" != *"$only"* ]] && continue
  printf '\n==> %s (Node %s)\n' "$f" "$(node --version)"
  npx tsx "$f" || rc=1
  name="$(basename "$f" .bench.ts)"
  if [[ " $lambda_code_benches " == *" $name "* ]]; then
    if lambda_node="$(bash local-stack/lambda-node.sh)"; then
      printf '\n==> %s (Node %s, the Lambda runtime'"'"'s major)\n' "$f" "$("$lambda_node" --version)"
      PATH="$(dirname "$lambda_node"):$PATH" "$lambda_node" node_modules/.bin/tsx "$f" || rc=1
    else
      rc=1
    fi
  fi
done
for f in bench/*_bench.py; do
  [ -e "$f" ] || continue
  [ -n "$only" ] && [[ "$f" != *"$only"* ]] && continue
  printf '\n==> %s\n' "$f"
  "$VENV/bin/python" "$f" || rc=1
done
exit $rc
