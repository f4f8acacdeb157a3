#!/usr/bin/env bash
# Before `docker compose up`: models present, secrets outside the bundle, key and TLS files owned and
# readable as the gateway needs them (root:101, the nginx user of nginx-unprivileged), GPUs visible.
# Usage: sudo scripts/preflight.sh <server>   (reads the paths from $GARRISON_ENV_FILE, default /etc/garrison/compose.env)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
env_file="${GARRISON_ENV_FILE:-/etc/garrison/compose.env}"
# Read only the path settings, without executing the file (it is not a shell script).
if [[ -r "$env_file" ]]; then
    while IFS='=' read -r k v; do
        case "$k" in
            MODELS_DIR | GARRISON_API_KEYS_FILE | GARRISON_ENGINE_AUTH_FILE | GARRISON_TLS_DIR | GARRISON_GATEWAY_GID)
                printf -v "$k" '%s' "$v"
                ;;
        esac
    done <"$env_file"
fi
models="${MODELS_DIR:-/srv/models}"
keys="${GARRISON_API_KEYS_FILE:-/etc/garrison/api_keys.map}"
engine_auth="${GARRISON_ENGINE_AUTH_FILE:-/etc/garrison/engine_auth.conf}"
tls="${GARRISON_TLS_DIR:-/etc/garrison/tls}"
gid="${GARRISON_GATEWAY_GID:-101}"
fail=0
# check NAME COMMAND...: run COMMAND (no eval: paths are data, never code)
check() {
    local name=$1
    shift
    if "$@"; then echo "ok    $name"; else echo "FAIL  $name"; fail=1; fi
}
# owned USER:GROUP MODE PATH: owner, group and mode exactly
# shellcheck disable=SC2317  # called through check
owned() { [[ $(stat -c %u:%g:%a "$3" 2>/dev/null) == "$1:$2" ]]; }
# shellcheck disable=SC2317  # called through check
owner_mode() { [[ $(stat -c %u:%a "$3" 2>/dev/null) == "$1:$2" ]]; }
# shellcheck disable=SC2317  # called through check
group_has_no_members() { [[ -z $(getent group "$1" | cut -d: -f4) ]]; }
check "model for frontier: $models/"'deepseek-v3' test -e "$models/"'deepseek-v3'
check "model for code: $models/"'qwen2.5-coder-7b' test -e "$models/"'qwen2.5-coder-7b'
check "secrets outside the bundle: no $here/compose/.env" test ! -e "$here/compose/.env"
check "settings file $env_file is root:root 0600" owned "0:0" 600 "$env_file"
check "API key map $keys is root:$gid 0640 (the gateway reads it as group $gid)" owned "0:$gid" 640 "$keys"
check "engine key include $engine_auth is root:$gid 0640" owned "0:$gid" 640 "$engine_auth"
check "TLS folder $tls is root:$gid 0750" owned "0:$gid" 750 "$tls"
check "TLS key $tls/server.key is root:$gid 0640" owned "0:$gid" 640 "$tls/server.key"
check "TLS certificate $tls/server.crt is root-owned 0644" owner_mode 0 644 "$tls/server.crt"
check "no host account shares group $gid (it can read the keys)" group_has_no_members "$gid"
# GPUs this server's compose file uses: pass the server's name (compose/README.md)
case "${1:-}" in
    hgx-1) need=8 ;;
    hgx-2) need=8 ;;
    hgx-3) need=1 ;;
    *) need=0 ;;
esac
# shellcheck disable=SC2317  # called through check
gpus_visible() { [[ $(nvidia-smi -L 2>/dev/null | wc -l) -ge $need ]]; }
check "$need GPU(s) visible on ${1:-this server}" gpus_visible
exit "$fail"
