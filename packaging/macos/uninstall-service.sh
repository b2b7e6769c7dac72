#!/bin/sh
# Stops and removes the trellisd launchd daemon (macOS). Run as root. The helper removes its
# routes and DNS settings when it stops. With --purge, its state (this device's identity), logs
# and the `trellis` group go too.
set -eu

label=com.trellis.trellisd
if [ "$(id -u)" -ne 0 ]; then
  echo "uninstall-service: run as root (sudo)" >&2
  exit 1
fi
launchctl bootout "system/$label" 2>/dev/null || true
rm -f "/Library/LaunchDaemons/$label.plist"
if [ "${1:-}" = --purge ]; then
  rm -rf "/Library/Application Support/Trellis" /Library/Logs/Trellis
  dseditgroup -o delete trellis 2>/dev/null || true
fi
echo "trellisd removed"
