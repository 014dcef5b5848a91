#!/bin/sh
# install-deps.sh - installs what online-game needs to build and test, on
# Debian, when it is missing. `make` runs it first; it is quick when all is
# present. Set ONLINE_GAME_NO_INSTALL=1 to only report what is missing.
set -e

missing=""
need_pkg() {  # need_pkg <debian-package> <check command...>
    pkg=$1; shift
    if ! "$@" >/dev/null 2>&1; then missing="$missing $pkg"; fi
}

need_pkg pkg-config       command -v pkg-config
need_pkg gcc              command -v cc
need_pkg make             command -v make
need_pkg libssl-dev       pkg-config --exists openssl
need_pkg libjansson-dev   pkg-config --exists jansson
need_pkg libsqlite3-dev   pkg-config --exists sqlite3
need_pkg libcunit1-dev    test -f /usr/include/CUnit/Basic.h
need_pkg curl             command -v curl
need_pkg nodejs           command -v node
need_pkg npm              command -v npm
need_pkg procps           command -v ps

[ -z "$missing" ] && exit 0

if [ -n "$ONLINE_GAME_NO_INSTALL" ]; then
    echo "install-deps: missing:$missing" >&2
    exit 1
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "install-deps: installing:$missing" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
