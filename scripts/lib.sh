# shellcheck shell=bash
# Shared by scripts/quickstart.sh and scripts/test.sh (sourced, not run). Needs bash.
# GARRISON_VENV overrides the virtual environment's location (default: <checkout>/.venv).

# apt_ensure PKG...: install the Debian/Ubuntu packages that are missing; `apt-get update` only
# when something is missing; as non-root (or without dpkg) only say what is missing.
apt_ensure() {
    local missing=() p
    if ! command -v dpkg-query >/dev/null 2>&1; then
        echo "apt: not a Debian/Ubuntu system; make sure these are installed: $*" >&2
        return 0
    fi
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        echo "apt: all ${#} packages present"
        return 0
    fi
    if [[ $(id -u) -ne 0 ]]; then
        echo "apt: SKIPPED (not root); missing: ${missing[*]} -- tests that need them will skip" >&2
        echo "     install with: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
        return 0
    fi
    echo "apt: installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
    local installable=()
    for p in "${missing[@]}"; do
        if apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [^(]'; then
            installable+=("$p")
        else
            echo "apt: WARNING: no installation candidate for $p on this distribution" >&2
        fi
    done
    [[ ${#installable[@]} -eq 0 ]] && return 0
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${installable[@]}" \
        </dev/null
}

# venv_ensure ROOT EXTRAS: create the venv if missing and `pip install -e ROOT[EXTRAS]` unless a
# stamp (hash of pyproject.toml, the python version, the checkout path and EXTRAS) says it is
# already done. Sets VENV and PY.
venv_ensure() {
    local root=$1 extras=${2:-} spec want stamp
    VENV=${GARRISON_VENV:-$root/.venv}
    if [[ ! -x $VENV/bin/python ]]; then
        if ! command -v python3 >/dev/null || ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
            apt_ensure python3-venv || return 1
        fi
        echo "venv: creating $VENV"
        python3 -m venv "$VENV" || return 1
    fi
    PY=$VENV/bin/python
    "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
        { echo "venv: Python >= 3.10 needed, $VENV has $("$PY" -V)" >&2; return 1; }
    spec=$root${extras:+[$extras]}
    stamp=$VENV/.garrison-installed${extras:+-$extras}
    want=$({ cat "$root/pyproject.toml"; "$PY" -VV; echo "$spec"; } | sha256sum | cut -d' ' -f1)
    if [[ -f $stamp && $(cat "$stamp") == "$want" ]] && "$PY" -c 'import garrison' 2>/dev/null; then
        echo "venv: $VENV up to date (pip install -e '$spec' already done)"
        return 0
    fi
    echo "venv: pip install -e '$spec'"
    "$PY" -m pip install -q --disable-pip-version-check -e "$spec" </dev/null || return 1
    echo "$want" >"$stamp"
}
