#!/usr/bin/env bash
# Make a self-signed TLS pair for a trial of the gateway (use your CA's certificate in production).
# Usage: sudo scripts/make-tls-cert.sh [DIR] [HOSTNAME]   (defaults: /etc/garrison/tls llm.acme-research.internal)
# The gateway runs as uid/gid 101 with no capabilities, so the folder and key belong to root and
# group ${GARRISON_GATEWAY_GID:-101}: folder 0750, key 0640, certificate 0644.
set -euo pipefail
dir="${1:-/etc/garrison/tls}"
host="${2:-llm.acme-research.internal}"
gid="${GARRISON_GATEWAY_GID:-101}"
umask 077
mkdir -p "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$dir/server.key" -out "$dir/server.crt" -days 365 \
    -subj "/CN=$host" -addext "subjectAltName=DNS:$host,DNS:gateway,DNS:localhost,IP:127.0.0.1"
if chgrp "$gid" "$dir" "$dir/server.key" 2>/dev/null; then
    chmod 0750 "$dir"
    chmod 0640 "$dir/server.key"
else
    echo "warning: could not give group $gid the key (run as root); the gateway cannot read it" >&2
fi
chmod 0644 "$dir/server.crt"
echo "wrote $dir/server.crt and $dir/server.key"
