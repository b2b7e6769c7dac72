#!/bin/sh
# Installs trellisd as a launchd system daemon (macOS). Run as root; the .pkg installer runs it
# from its postinstall script. Idempotent: an upgrade replaces and restarts the daemon.
#
# Usage: install-service.sh [APP]   (APP defaults to /Applications/Trellis.app)
set -eu

app=${1:-/Applications/Trellis.app}
label=com.trellis.trellisd
plist=/Library/LaunchDaemons/$label.plist
src="$app/Contents/Resources/helper/service/$label.plist"

if [ "$(id -u)" -ne 0 ]; then
  echo "install-service: run as root (sudo)" >&2
  exit 1
fi
if [ ! -f "$src" ]; then
  echo "install-service: $src not found; is Trellis installed in $app?" >&2
  exit 1
fi

# Members of `trellis` may use the helper's socket.
if ! dscl . -read /Groups/trellis >/dev/null 2>&1; then
  dseditgroup -o create -r "Trellis users" trellis
fi
console_user=$(stat -f %Su /dev/console 2>/dev/null || true)
if [ -n "$console_user" ] && [ "$console_user" != root ]; then
  dseditgroup -o edit -a "$console_user" -t user trellis || true
fi

# /var/run/trellis holds the LocalAPI socket; macOS empties /var/run at boot, and the helper
# makes the directory again when it starts.
mkdir -p "/Library/Application Support/Trellis/state" /Library/Logs/Trellis /var/run/trellis
chmod 700 "/Library/Application Support/Trellis/state"

# The plist names the app's default location; rewrite it when installed elsewhere.
sed "s#/Applications/Trellis.app#$app#g" "$src" >"$plist.tmp"
chown root:wheel "$plist.tmp"
chmod 644 "$plist.tmp"
mv "$plist.tmp" "$plist"

launchctl bootout "system/$label" 2>/dev/null || true
launchctl bootstrap system "$plist"
launchctl enable "system/$label"
echo "trellisd installed and started ($plist)"
