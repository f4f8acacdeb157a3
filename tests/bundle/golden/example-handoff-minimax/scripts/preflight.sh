#!/usr/bin/env bash
# Before `docker compose up`: models present, keys file private, TLS pair present, GPUs visible.
# Usage: scripts/preflight.sh   (reads compose/.env when present)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
if [[ -f "$here/compose/.env" ]]; then
    set -a
    # shellcheck disable=SC1091
    source "$here/compose/.env"
    set +a
fi
models="${MODELS_DIR:-/srv/models}"
keys="${GARRISON_API_KEYS_FILE:-/etc/garrison/api_keys.map}"
tls="${GARRISON_TLS_DIR:-/etc/garrison/tls}"
fail=0
check() {
    if eval "$2"; then echo "ok    $1"; else echo "FAIL  $1"; fail=1; fi
}
check "model for chat: $models/minimax-m2" "[[ -e '$models/minimax-m2' ]]"
check "API keys file $keys is mode 600" "[[ \$(stat -c %a '$keys' 2>/dev/null) == 600 ]]"
check "TLS pair in $tls" "[[ -s '$tls/server.crt' && -s '$tls/server.key' ]]"
check "8 GPU(s) visible" "[[ \$(nvidia-smi -L 2>/dev/null | wc -l) -ge 8 ]]"
exit "$fail"
