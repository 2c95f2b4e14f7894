#!/usr/bin/env bash
# `npm run local [-- options]`: the whole pipeline on this machine, with the real local engines.
#   1. npm packages (npm ci when package-lock.json changed since the last install)
#   2. the local engines: installed if missing (cached after the first time) and started if down
#   3. node --import tsx local/cli.ts "$@"  (options: npm run local -- --help)
#   4. the engines this script started are stopped again, unless --keep-running is given;
#      engines that were already running before are left as they were.
set -uo pipefail
cd "$(dirname "$0")/.."
source local-stack/env.sh

keep_running=0
for arg in "$@"; do
  case "$arg" in
    -h|--help) exec npx tsx local/cli.ts --help ;;
    --keep-running) keep_running=1 ;;
  esac
done

step() { printf '\n==> %s\n' "$*"; }

step "npm packages"
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f node_modules/.install-stamp ] && [ "$(cat node_modules/.install-stamp)" = "$lock_hash" ]; then
  echo "up to date"
elif [ ! -f node_modules/.install-stamp ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
  # Installed by a plain `npm ci` / `npm install` after the last change of package-lock.json (npm
  # writes its hidden lockfile then): nothing to do. Another npm ci would delete node_modules
  # first, under anything else (a test run) using it at that moment.
  echo "$lock_hash" > node_modules/.install-stamp
  echo "up to date"
else
  npm ci --no-audit --no-fund || { echo "local: npm ci failed" >&2; exit 1; }
  echo "$lock_hash" > node_modules/.install-stamp
fi

engines=(kafka s3 opensearch spark)
# Which engines are up already (they stay up afterwards whatever happens).
already=()
for engine in kafka s3 opensearch; do
  if bash local-stack/stack.sh status "$engine" >/dev/null 2>&1; then already+=("$engine"); fi
done
started=()
for engine in kafka s3 opensearch; do
  case " ${already[*]-} " in *" $engine "*) ;; *) started+=("$engine") ;; esac
done

stop_started() {
  if [ "$keep_running" = 1 ] || [ ${#started[@]} -eq 0 ]; then return; fi
  step "stopping the engines this run started: ${started[*]} (use --keep-running to keep them)"
  bash local-stack/stack.sh down "${started[@]}"
}

step "local engines (first time: downloads and installs, cached afterwards)"
if ! bash local-stack/stack.sh up "${engines[@]}"; then
  echo "local: starting the local engines failed (logs: $LOCAL_STACK_HOME/logs/)" >&2
  stop_started
  exit 1
fi
trap stop_started EXIT

step "pipeline"
# Node with tsx's loader, one process: Ctrl-C reaches the pipeline once and it stops cleanly. (The
# tsx command runs the script in a child and relays signals to it; when the child is slow to
# confirm one, on a busy machine, tsx sends it again and then SIGKILL, cutting a clean stop short.)
KAFKAJS_NO_PARTITIONER_WARNING=1 node --import tsx local/cli.ts "$@"
rc=$?
if [ "$keep_running" = 1 ]; then
  echo
  echo "The engines keep running. Stop them with: npm run stack:down"
fi
exit $rc
