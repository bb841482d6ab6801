#!/bin/sh
# Run a command with an unlocked gnome-keyring in this D-Bus session, so that keyring's
# Secret Service backend is the real one.
# Usage: dbus-run-session -- tools/with_keyring.sh COMMAND [ARGUMENTS...]
set -eu

if [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ]; then
    echo "with_keyring.sh: no D-Bus session; run it under dbus-run-session" >&2
    exit 2
fi
if ! command -v gnome-keyring-daemon >/dev/null 2>&1; then
    echo "with_keyring.sh: gnome-keyring-daemon not found; run 'make system-deps'" >&2
    exit 2
fi

# The keyring files go to a throw-away folder. The password only unlocks this
# session's new login keyring. With an empty password, the first write fails with
# "Prompt dismissed".
keyring_home=$(mktemp -d)
export XDG_DATA_HOME="$keyring_home/data"
mkdir -p "$XDG_DATA_HOME"
daemon_variables=$(printf 'meshport-test-session' | gnome-keyring-daemon --unlock --components=secrets)
eval "$daemon_variables"
if [ -z "${GNOME_KEYRING_CONTROL:-}" ]; then
    echo "with_keyring.sh: gnome-keyring-daemon did not start: $daemon_variables" >&2
    rm -rf "$keyring_home"
    exit 1
fi
export GNOME_KEYRING_CONTROL

status=0
"$@" || status=$?

if [ -n "${GNOME_KEYRING_PID:-}" ]; then
    kill "$GNOME_KEYRING_PID" 2>/dev/null || true
fi
rm -rf "$keyring_home"
exit $status
