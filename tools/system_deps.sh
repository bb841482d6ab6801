#!/bin/sh
# Install the Debian packages a make target needs, or print the apt-get command that
# does so and fail when not run as root.
# Usage: tools/system_deps.sh venv|demo|test|bench [PYTHON]
set -eu

# Shared libraries the bpy module (4.2 and 4.5) links against on Linux.
BPY_LIBS="libgl1 libopengl0 libgomp1 libsm6 libice6 libx11-6 libxext6 libxfixes3 libxi6
libxkbcommon0 libxrender1 libxt6 libxxf86vm1"
# The real Secret Service for the keyring tests, and Redis for the studio cache tests.
TEST_TOOLS="dbus gnome-keyring libsecret-tools redis-server"
BENCH_TOOLS="nginx-light curl"

group=${1:-test}
python=${2:-python3}
case "$group" in
    venv) wanted="" ;;
    demo) wanted="$BPY_LIBS" ;;
    test) wanted="$BPY_LIBS $TEST_TOOLS" ;;
    bench) wanted="$BPY_LIBS $BENCH_TOOLS" ;;
    *) echo "usage: $0 venv|demo|test|bench [PYTHON]" >&2; exit 2 ;;
esac

# Debian's own Python needs python3-venv for `python3 -m venv`.
if ! "$python" -c "import ensurepip, venv" 2>/dev/null; then
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
    echo "Install them as root, then run make again:" >&2
    echo "    sudo apt-get update && sudo apt-get install -y --no-install-recommends$missing" >&2
    exit 1
fi

echo "Installing Debian packages:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086  # one word per package
apt-get install -y -q --no-install-recommends $missing
