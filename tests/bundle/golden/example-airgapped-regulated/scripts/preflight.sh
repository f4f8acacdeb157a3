#!/usr/bin/env bash
# Before `docker compose up`: models present, keys file private, TLS pair present, GPUs visible.
# Usage: sudo scripts/preflight.sh <server>   (reads the paths from $GARRISON_ENV_FILE, default /etc/garrison/compose.env)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
env_file="${GARRISON_ENV_FILE:-/etc/garrison/compose.env}"
# Read only the three path settings, without executing the file (it is not a shell script).
if [[ -r "$env_file" ]]; then
    while IFS='=' read -r k v; do
        case "$k" in
            MODELS_DIR | GARRISON_API_KEYS_FILE | GARRISON_TLS_DIR) printf -v "$k" '%s' "$v" ;;
        esac
    done <"$env_file"
fi
models="${MODELS_DIR:-/srv/models}"
keys="${GARRISON_API_KEYS_FILE:-/etc/garrison/api_keys.map}"
tls="${GARRISON_TLS_DIR:-/etc/garrison/tls}"
fail=0
# check NAME COMMAND...: run COMMAND (no eval: paths are data, never code)
check() {
    local name=$1
    shift
    if "$@"; then echo "ok    $name"; else echo "FAIL  $name"; fail=1; fi
}
# shellcheck disable=SC2317  # called through check
mode_is() { [[ $(stat -c %a "$1" 2>/dev/null) == "$2" ]]; }
check "model for clinical-assistant: $models/"'qwen3-32b' test -e "$models/"'qwen3-32b'
check "secrets outside the bundle: no $here/compose/.env" test ! -e "$here/compose/.env"
check "settings file $env_file is mode 600" mode_is "$env_file" 600
check "API keys file $keys is mode 600" mode_is "$keys" 600
check "TLS pair in $tls" test -s "$tls/server.crt" -a -s "$tls/server.key"
# GPUs this server's compose file uses: pass the server's name (compose/README.md)
case "${1:-}" in
    clinical-assistant-rtx-6000-ada-1) need=1 ;;
    clinical-assistant-rtx-6000-ada-2) need=1 ;;
    *) need=0 ;;
esac
# shellcheck disable=SC2317  # called through check
gpus_visible() { [[ $(nvidia-smi -L 2>/dev/null | wc -l) -ge $need ]]; }
check "$need GPU(s) visible on ${1:-this server}" gpus_visible
exit "$fail"
