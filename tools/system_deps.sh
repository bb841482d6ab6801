#!/bin/sh
# Install the Debian packages a make target needs, or print the command to do so.
# Usage: tools/system_deps.sh demo|test|bench
set -eu

# Shared libraries the bpy module links against on Linux.
BPY_LIBS="libgl1 libsm6 libice6 libx11-6 libxext6 libxfixes3 libxi6 libxkbcommon0 libxrender1 libxxf86vm1"
TEST_TOOLS="dbus gnome-keyring libsecret-tools redis-server"

case "${1:-test}" in
    demo) wanted="$BPY_LIBS" ;;
    test) wanted="$BPY_LIBS $TEST_TOOLS" ;;
    bench) wanted="$BPY_LIBS nginx-light curl" ;;
    *) echo "usage: $0 demo|test|bench" >&2; exit 2 ;;
esac

if ! python3 -c "import ensurepip, venv" 2>/dev/null; then
    wanted="$wanted python3-venv"
fi

missing=""
for package in $wanted; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $package"
    fi
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "Missing Debian packages:$missing" >&2
    echo "Install them with:" >&2
    echo "    sudo apt-get update && sudo apt-get install -y --no-install-recommends$missing" >&2
    exit 1
fi

echo "Installing Debian packages:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
