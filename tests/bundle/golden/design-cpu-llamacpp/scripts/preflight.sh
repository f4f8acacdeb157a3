#!/usr/bin/env bash
# Before `docker compose up`: models present, keys file private, TLS pair present.
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
check "model for assistant: $models/"'llama-3.2-3b-Q4_K_M.gguf' test -e "$models/"'llama-3.2-3b-Q4_K_M.gguf'
check "secrets outside the bundle: no $here/compose/.env" test ! -e "$here/compose/.env"
check "settings file $env_file is mode 600" mode_is "$env_file" 600
check "API keys file $keys is mode 600" mode_is "$keys" 600
check "TLS pair in $tls" test -s "$tls/server.crt" -a -s "$tls/server.key"
exit "$fail"
