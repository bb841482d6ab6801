#!/bin/sh
# Run a command with a private D-Bus session and an unlocked gnome-keyring, so that
# keyring's Secret Service backend is real. Usage: dbus-run-session -- tools/with_keyring.sh CMD...
set -eu

if [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ]; then
    echo "with_keyring.sh: no D-Bus session; run it under dbus-run-session" >&2
    exit 2
fi

# The password only unlocks this throw-away session's login keyring; an empty one
# makes the first write fail with "Prompt dismissed".
keyring_home=$(mktemp -d)
export XDG_DATA_HOME="$keyring_home/data"
mkdir -p "$XDG_DATA_HOME"
eval "$(printf 'meshport-test-session' | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL

status=0
"$@" || status=$?
[ -n "${GNOME_KEYRING_PID:-}" ] && kill "$GNOME_KEYRING_PID" 2>/dev/null || true
rm -rf "$keyring_home"
exit $status
