# shellcheck shell=bash
# Helpers shared by the S3 server scripts. Sourced after ../env.sh.
s3_installed() { [ -x "$VENV/bin/moto_server" ] && [ -f "$VENV/.requirements.sha256" ]; }
s3_version() { "$VENV/bin/python" -c 'import moto; print(moto.__version__)' 2>/dev/null || echo "?"; }
# Any HTTP answer (even an error status) means the server is up.
s3_answers() {
  local code
  code="$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$S3_ENDPOINT/" || true)"
  [ -n "$code" ] && [ "$code" != "000" ]
}
