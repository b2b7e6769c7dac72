#!/bin/sh
# deb postinst / rpm %post for the Trellis package (electron-builder afterInstall; it fills in
# ${sanitizedProductName} and ${executable} when it builds the package, so shell variables here
# are written $name, never with braces).
#
#   deb: postinst configure <old version>      rpm: %post <1 = install, 2 = upgrade>
#
# 1. Desktop integration, as electron-builder's default script does: the launcher on PATH, the
#    Chromium sandbox helper, the MIME and desktop databases (the trellis:// handler), AppArmor.
# 2. The helper: the `trellis` group (members may use the LocalAPI socket), the CLI and helper
#    on PATH, the systemd unit, enabled and (re)started.
set -e

app='/opt/${sanitizedProductName}'
exe='${executable}'
helper="$app/resources/helper"

ln -sf "$app/$exe" "/usr/bin/$exe"
ln -sf "$helper/bin/trellis" /usr/bin/trellis
ln -sf "$helper/bin/trellisd" /usr/sbin/trellisd

# Without unprivileged user namespaces the sandbox helper must be setuid root.
if [ -L /proc/self/ns/user ] && unshare --user true 2>/dev/null; then
  chmod 0755 "$app/chrome-sandbox" || true
else
  chmod 4755 "$app/chrome-sandbox" || true
fi
if command -v update-mime-database >/dev/null 2>&1; then
  update-mime-database /usr/share/mime || true
fi
if command -v update-desktop-database >/dev/null 2>&1; then
  update-desktop-database /usr/share/applications || true
fi
# Ubuntu 24.04+ restricts user namespaces to programs with an AppArmor profile.
if [ -f "$app/resources/apparmor-profile" ] && command -v apparmor_parser >/dev/null 2>&1 &&
  apparmor_parser --skip-kernel-load "$app/resources/apparmor-profile" >/dev/null 2>&1; then
  cp -f "$app/resources/apparmor-profile" "/etc/apparmor.d/$exe"
  if ! { [ -x /usr/bin/ischroot ] && /usr/bin/ischroot; }; then
    apparmor_parser --replace --write-cache --skip-read-cache "/etc/apparmor.d/$exe" || true
  fi
fi

if ! getent group trellis >/dev/null 2>&1; then
  groupadd --system trellis
fi
# Whoever installed it with sudo may use Trellis without sudo (after logging in again).
if [ -n "$SUDO_USER" ] && [ "$SUDO_USER" != root ] && id "$SUDO_USER" >/dev/null 2>&1; then
  usermod -a -G trellis "$SUDO_USER" || true
fi

install -D -m 0644 "$helper/service/trellisd.service" /usr/lib/systemd/system/trellisd.service
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
  systemctl enable trellisd.service || true
  # restart: an upgrade runs the new helper at once; a first install starts it.
  systemctl restart trellisd.service || echo "trellisd did not start: see journalctl -u trellisd" >&2
fi
exit 0
