#!/usr/bin/env bash
# Check, then load, the host firewall (run as root on every server of the platform).
# Usage: scripts/apply-firewall.sh [--check-only]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
rules="$here/security/nftables.conf"
nft -c -f "$rules"
echo "nftables ruleset OK: $rules"
if [[ "${1:-}" == "--check-only" ]]; then
    exit 0
fi
# The servers that may reach the published engine ports (gateway) and metrics ports (Prometheus):
# their addresses from compose.env (GARRISON_ADDR_<SERVER>), read without executing the file.
env_file="${GARRISON_ENV_FILE:-/etc/garrison/compose.env}"
declare -A addr=()
while IFS='=' read -r k v; do
    case "$k" in
        GARRISON_ADDR_*) addr[$k]=$v ;;
    esac
done <"$env_file"
ipv4_of() { # the IPv4 address of a setting (an address or a host name)
    local value=${addr[$1]:-}
    if [[ -z "$value" ]]; then
        echo "$1 is not set in $env_file" >&2
        exit 2
    fi
    getent ahostsv4 "$value" | awk 'NR == 1 { print $1 }'
}
gateways=() prometheus=()
gateways+=("$(ipv4_of GARRISON_ADDR_HGX_1)")
prometheus+=("$(ipv4_of GARRISON_ADDR_HGX_1)")
for ip in "${gateways[@]}" "${prometheus[@]}"; do
    if [[ -z "$ip" ]]; then
        echo "a GARRISON_ADDR_ setting in $env_file has no IPv4 address" >&2
        exit 2
    fi
done
nft -f "$rules"
for ip in "${gateways[@]}"; do
    nft add element inet garrison gateway_servers_v4 "{ $ip }"
done
for ip in "${prometheus[@]}"; do
    nft add element inet garrison prometheus_servers_v4 "{ $ip }"
done
echo "loaded; gateway servers ${gateways[*]}, Prometheus servers ${prometheus[*]}"
echo "run this script at boot (the sets are filled from compose.env, not kept in nftables.conf)"
