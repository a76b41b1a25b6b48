#!/bin/sh
# Install Dockyard with its test tools and run the whole test suite, as root.
# Extra arguments go to pytest (e.g. ./scripts/test.sh -k logs -x).
set -eu
REPO=$(cd "$(dirname "$0")/.." && pwd)
"$REPO/scripts/install.sh" --dev
PREFIX=${DOCKYARD_PREFIX:-/opt/dockyard}
cd "$REPO"
exec "$PREFIX/bin/python" -m pytest -q -p no:cacheprovider "$@" tests
