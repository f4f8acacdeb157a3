#!/usr/bin/env bash
# Quickstart: plan a platform for a bundled example with the built-in catalogue.
# No GPU, no network beyond PyPI for the first install. Creates .venv (pip install -e .) if needed.
#
#   bash scripts/quickstart.sh                       # the example below -> out/quickstart/
#   bash scripts/quickstart.sh examples/other.yaml   # another requirements file
#   bash scripts/quickstart.sh "" --json             # default example, extra `garrison plan` options
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

EXAMPLE=${1:-examples/chat-40-qwen3-next.yaml}
shift || true
if [[ ! -f $EXAMPLE ]]; then
    echo "quickstart: $EXAMPLE not found; examples:" examples/*.yaml >&2
    exit 2
fi
venv_ensure "$ROOT" "" >&2
echo "quickstart: garrison plan $EXAMPLE --out out/quickstart --force $*" >&2
exec "$VENV/bin/garrison" plan "$EXAMPLE" --out out/quickstart --force "$@"
