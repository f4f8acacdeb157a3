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
nft -f "$rules"
echo "loaded; persist it by copying to /etc/nftables.conf and enabling nftables.service"
