#!/usr/bin/env bash
# Make a self-signed TLS pair for a trial of the gateway (use your CA's certificate in production).
# Usage: scripts/make-tls-cert.sh [DIR] [HOSTNAME]   (defaults: /etc/garrison/tls llm.unnamed-organisation.internal)
set -euo pipefail
dir="${1:-/etc/garrison/tls}"
host="${2:-llm.unnamed-organisation.internal}"
umask 077
mkdir -p "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$dir/server.key" -out "$dir/server.crt" -days 365 \
    -subj "/CN=$host" -addext "subjectAltName=DNS:$host,DNS:gateway,DNS:localhost,IP:127.0.0.1"
chmod 0600 "$dir/server.key"
chmod 0644 "$dir/server.crt"
echo "wrote $dir/server.crt and $dir/server.key"
