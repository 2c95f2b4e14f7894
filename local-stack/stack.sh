#!/usr/bin/env bash
# The local engines of the clickstream pipeline, real ones, no Docker:
#   bash local-stack/stack.sh install|up|down|status [engine...]
# engines: kafka s3 opensearch spark (default: these four), and opensearch-secure, the
# security-enabled test node, which starts only when named (the FGAC tests ask for it); a plain
# `down` stops it too.
#   install  fetch what is missing (venv, Maven jars); a second run is a quick no-op
#   up       install if needed, then start; an engine already running is left alone
#   down     stop the engines; no engine process is left behind
#   status   one line per engine; exit 0 when all are running (spark: installed), 3 otherwise
# Ports, folders and versions: local-stack/env.sh and local-stack/README.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
STACK_DIR="$REPO_ROOT/local-stack"

ALL_ENGINES=(kafka s3 opensearch opensearch-secure spark)
# What a command without engine names means: install/up/status leave the test-only secured node
# out (`npm run local` has no use for it); down stops everything, so nothing is left behind.
DEFAULT_ENGINES=(kafka s3 opensearch spark)

usage() {
  echo "usage: $0 install|up|down|status [kafka|s3|opensearch|opensearch-secure|spark ...]" >&2
  exit 2
}

[ $# -ge 1 ] || usage
command="$1"; shift
case "$command" in install|up|down|status) ;; *) usage ;; esac

# Requested engines, validated, in the canonical order (Kafka first, Spark last).
requested=("$@")
if [ ${#requested[@]} -eq 0 ]; then
  if [ "$command" = down ]; then requested=("${ALL_ENGINES[@]}"); else requested=("${DEFAULT_ENGINES[@]}"); fi
fi
for engine in "${requested[@]}"; do
  case " ${ALL_ENGINES[*]} " in *" $engine "*) ;; *) echo "unknown engine: $engine" >&2; usage ;; esac
done
engines=()
for engine in "${ALL_ENGINES[@]}"; do
  case " ${requested[*]} " in *" $engine "*) engines+=("$engine") ;; esac
done

# The OpenSearch scripts are built separately; while their folder is missing, skip with a warning.
if [ ! -f "$STACK_DIR/opensearch/start.sh" ]; then
  kept=()
  for engine in "${engines[@]}"; do
    if [ "$engine" = opensearch ]; then
      echo "WARNING: $STACK_DIR/opensearch/ is missing: skipping opensearch" >&2
    else
      kept+=("$engine")
    fi
  done
  engines=("${kept[@]+"${kept[@]}"}")
fi

wants() { case " ${engines[*]-} " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

cmd_install() {
  local started=$SECONDS venv_pid="" venv_log="$LOCAL_STACK_HOME/logs/venv-install.log"
  mkdir -p "$LOCAL_STACK_HOME/logs"
  # pip (network + unpacking pyspark) and Maven (network) overlap: the venv installs in the
  # background while the Maven downloads run one after another (they share one local repository).
  if wants spark; then
    bash "$STACK_DIR/venv.sh" >"$venv_log" 2>&1 &
    venv_pid=$!
  fi
  if wants kafka; then bash "$STACK_DIR/kafka/install.sh"; fi
  if wants s3; then bash "$STACK_DIR/s3/install.sh"; fi
  if wants spark; then bash "$STACK_DIR/spark/install.sh" --jars; fi
  if wants opensearch; then bash "$STACK_DIR/opensearch/install.sh"; fi
  if wants opensearch-secure; then bash "$STACK_DIR/opensearch-secure/install.sh"; fi
  if [ -n "$venv_pid" ]; then
    if ! wait "$venv_pid"; then
      tail -n 40 "$venv_log" >&2
      stack_die "installing the Python venv failed; full output in $venv_log"
    fi
    cat "$venv_log"
  fi
  if wants spark; then bash "$STACK_DIR/spark/install.sh"; fi
  stack_log "install: done in $((SECONDS - started))s"
}

print_endpoints() {
  echo "endpoints:"
  if wants kafka; then echo "  KAFKA_BROKERS=$KAFKA_BROKERS"; fi
  if wants s3; then echo "  S3_ENDPOINT=$S3_ENDPOINT  (AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID, path-style, data in ${S3_DATA_DIR:-$LOCAL_STACK_HOME/data/s3})"; fi
  if wants opensearch; then echo "  OPENSEARCH_ENDPOINT=$OPENSEARCH_ENDPOINT"; fi
  if wants opensearch-secure; then echo "  OPENSEARCH_SECURE_ENDPOINT=$OPENSEARCH_SECURE_ENDPOINT  (basic auth, OPENSEARCH_SECURE_ADMIN_USER=$OPENSEARCH_SECURE_ADMIN_USER)"; fi
  if wants spark; then echo "  spark: bash local-stack/spark/submit.sh SCRIPT.py  (python: $VENV/bin/python)"; fi
}

cmd_up() {
  # Only what install actually does is worth a line here; "already installed" lines are dropped.
  cmd_install 2>&1 | { grep -v -E ': (installed|jars present|already installed|up to date) |install: done in' || true; }
  # Ports first, for all engines, so that a taken port fails the command before anything starts.
  local engine var
  for engine in "${engines[@]+"${engines[@]}"}"; do
    stack_running_pid "$engine" >/dev/null && continue
    case "$engine" in
      kafka) for var in KAFKA_PORT KAFKA_CONTROLLER_PORT; do stack_require_free_port "$var"; done ;;
      s3) stack_require_free_port S3_PORT ;;
      opensearch) for var in OPENSEARCH_PORT OPENSEARCH_TRANSPORT_PORT; do stack_require_free_port "$var"; done ;;
      opensearch-secure) for var in OPENSEARCH_SECURE_PORT OPENSEARCH_SECURE_TRANSPORT_PORT; do stack_require_free_port "$var"; done ;;
    esac
  done
  # The engines start side by side (most of a start is waiting for a JVM to come up); each one's
  # output is printed as a block when it is done, in the usual order.
  local i rc=0 pids=() outputs=()
  for i in "${!engines[@]}"; do
    outputs[i]="$(mktemp)"
    bash "$STACK_DIR/${engines[i]}/start.sh" >"${outputs[i]}" 2>&1 &
    pids[i]=$!
  done
  for i in "${!engines[@]}"; do
    wait "${pids[i]}" || rc=1
    cat "${outputs[i]}"
    rm -f "${outputs[i]}"
  done
  [ "$rc" -eq 0 ] || stack_die "could not start every engine (see above); the others are left running, \`stack.sh down\` stops them"
  print_endpoints
}

# Engine processes of THIS stack (matched by its LOCAL_STACK_HOME or venv in the command line),
# whatever their pid files say: a pid file lost after a crash must not leave an engine behind.
engine_orphans() {
  local pattern
  case "$1" in
    kafka) pattern="kafka\\.Kafka $LOCAL_STACK_HOME/" ;;
    # The shared server only (run/s3proxy.properties: its name before the data moved to disk);
    # a private one (S3_INSTANCE, e.g. a restart test's) is stopped by its own stop.sh.
    s3) pattern="$LOCAL_STACK_HOME/cache/s3proxy/s3proxy-.*\\.jar --properties $LOCAL_STACK_HOME/run/(s3|s3proxy)\\.properties" ;;
    opensearch) pattern="$LOCAL_STACK_HOME/.*LocalOpenSearch|LocalOpenSearch.*$LOCAL_STACK_HOME/" ;;
    opensearch-secure) pattern="LocalOpenSearch .*-Epath.home=$LOCAL_STACK_HOME/data/opensearch-secure( |$)" ;;
    *) return 0 ;;
  esac
  local pid
  for pid in $(pgrep -f -- "$pattern" || true); do
    # Both nodes run the same launcher class: the main node's pattern must not take the secured one.
    if [ "$1" = opensearch ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "-Epath.home=$LOCAL_STACK_HOME/data/opensearch-secure"; then
      continue
    fi
    echo "$pid"
  done
}

cmd_down() {
  local engine pid
  for engine in spark opensearch-secure opensearch s3 kafka; do
    wants "$engine" || continue
    bash "$STACK_DIR/$engine/stop.sh"
    for pid in $(engine_orphans "$engine"); do
      echo "$engine: stopping leftover process $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-100))"
      kill -TERM "$pid" 2>/dev/null || true
    done
  done
  for engine in opensearch-secure opensearch s3 kafka; do
    wants "$engine" || continue
    for _ in $(seq 1 100); do
      [ -z "$(engine_orphans "$engine")" ] && break
      sleep 0.2
    done
    for pid in $(engine_orphans "$engine"); do
      echo "$engine: process $pid ignored TERM for 20s, killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    done
  done
  return 0
}

cmd_status() {
  local engine line rc=0
  for engine in "${engines[@]+"${engines[@]}"}"; do
    line="$(bash "$STACK_DIR/$engine/status.sh" 2>&1)" || rc=3
    echo "$line"
    # The OpenSearch status scripts exit 0 when stopped too: judge them by their line.
    if [[ "$engine" = opensearch* ]] && ! grep -q "^$engine: running" <<<"$line"; then rc=3; fi
  done
  return $rc
}

case "$command" in
  install) stack_lock stack; cmd_install ;;
  up) stack_lock stack; cmd_up ;;
  down) stack_lock stack; cmd_down ;;
  status) cmd_status ;;
esac
