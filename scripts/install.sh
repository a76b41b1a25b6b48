#!/bin/sh
# Install Dockyard on a Debian or Ubuntu machine, as root.
#
#   ./scripts/install.sh          Dockyard itself: busybox-static (for the busybox
#                                 image), tini (for --init), a Python 3.11+ virtual environment in
#                                 $DOCKYARD_PREFIX (default /opt/dockyard), and the
#                                 `dockyard` and `dockyard-runtime` commands in
#                                 $DOCKYARD_BIN (/usr/local/bin)
#   ./scripts/install.sh --dev    the same, installed from this checkout in editable
#                                 mode, plus what the tests need (pytest, runc)
#
# Idempotent: a second run only does what is missing.
set -eu

REPO=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=${DOCKYARD_PREFIX:-/opt/dockyard}
BIN=${DOCKYARD_BIN:-/usr/local/bin}
DEV=0
case "${1:-}" in
    "") ;;
    --dev) DEV=1 ;;
    -h|--help) sed -n '2,12s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) printf '[install] error: unknown option %s (see --help)\n' "$1" >&2; exit 2 ;;
esac

say() { printf '[install] %s\n' "$*" >&2; }
die() { printf '[install] error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root: containers need namespaces, mounts and cgroups"
[ "$(uname -s)" = Linux ] || die "Dockyard runs on Linux only"

# --- Debian packages ----------------------------------------------------------
# tini: the static init that `run --init` binds into containers (/usr/bin/tini-static)
pkgs="busybox-static tini"
# for the tests: runc (--runtime runc), a registry server and htpasswd (registry tests)
[ "$DEV" = 1 ] && pkgs="$pkgs runc docker-registry apache2-utils"
have_py() { "$1" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }
PY=${PYTHON:-}
if [ -z "$PY" ]; then
    for cand in python3 python3.13 python3.12 python3.11; do
        if command -v "$cand" >/dev/null 2>&1 && have_py "$cand"; then PY=$cand; break; fi
    done
fi
if [ -z "$PY" ]; then
    # Debian 12 has 3.11 as python3; older Ubuntu releases carry python3.11 beside it
    if command -v python3 >/dev/null 2>&1 && python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        pkgs="$pkgs python3-venv"; PY=python3
    else
        pkgs="$pkgs python3.11 python3.11-venv"; PY=python3.11
    fi
fi
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
    command -v apt-get >/dev/null 2>&1 || die "missing:$missing, and no apt-get to install them"
    say "installing Debian packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    # docker-registry's package would start a registry on :5000 for everyone;
    # the tests start their own on 127.0.0.1, so no service may start here
    policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && policy=1
    fi
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
    [ -n "$policy" ] && rm -f /usr/sbin/policy-rc.d
fi
have_py "$PY" || die "$PY is not Python 3.11+ with venv"

# --- the virtual environment ----------------------------------------------------
PYEXE=$("$PY" -c 'import sys; print(sys.executable)')
if [ ! -x "$PREFIX/bin/python" ] || ! "$PREFIX/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    say "creating the virtual environment $PREFIX (Python $("$PYEXE" -c 'import platform; print(platform.python_version())'))"
    rm -rf "$PREFIX"
    "$PYEXE" -m venv "$PREFIX"
fi
if [ "$DEV" = 1 ]; then
    say "installing dockyard from $REPO (editable) with its test tools"
    "$PREFIX/bin/python" -m pip install -q --disable-pip-version-check -e "$REPO[test]"
else
    say "installing dockyard from $REPO"
    "$PREFIX/bin/python" -m pip install -q --disable-pip-version-check "$REPO"
fi

# --- the launcher ---------------------------------------------------------------
# pip's own wrapper script runs `site` and imports `re`: tens of ms at every start.
# This one starts the interpreter isolated (-I) and without site (-S), and puts the
# package and the environment's site-packages on sys.path itself.
PKGDIR=$("$PREFIX/bin/python" -c 'import dockyard, os; print(os.path.dirname(os.path.dirname(dockyard.__file__)))')
SITE=$("$PREFIX/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
PATHS="\"$PKGDIR\""
[ "$SITE" = "$PKGDIR" ] || PATHS="$PATHS, \"$SITE\""
mkdir -p "$BIN"
# dockyard (the engine's CLI) and dockyard-runtime (the OCI runtime command line)
for entry in "dockyard:dockyard.cli.main" "dockyard-runtime:dockyard.cli.runtime"; do
    name=${entry%%:*}
    module=${entry#*:}
    tmp="$BIN/.$name.$$"
    cat >"$tmp" <<LAUNCHER
#!$PREFIX/bin/python -IS
# $name launcher, written by scripts/install.sh
import sys
sys.path[:0] = [$PATHS]
from $module import run_and_exit
run_and_exit()
LAUNCHER
    chmod 755 "$tmp"
    mv -f "$tmp" "$BIN/$name"
done
"$PREFIX/bin/python" -m compileall -q "$PKGDIR/dockyard" >/dev/null 2>&1 || true
say "installed: $BIN/dockyard ($("$BIN/dockyard" --version)) and $BIN/dockyard-runtime"
