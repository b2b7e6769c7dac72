#!/bin/sh
# deb postrm / rpm %postun for the Trellis package (electron-builder afterRemove, which fills
# in ${sanitizedProductName} and ${executable}; shell variables are written without braces).
#
#   deb: postrm <remove | purge | upgrade | ...>    rpm: %postun <0 = erase, 1 = upgrade>
#
# remove (deb) or erase (rpm): the unit, the links on PATH, the AppArmor profile. The state in
# /var/lib/trellis (this device's identity) and the `trellis` group stay, so reinstalling keeps
# the device; purge (deb) removes them too. rpm has no purge: remove them by hand (docs/install.md).
set -e

exe='${executable}'

case "$1" in
  remove | purge | 0) ;;
  *) exit 0 ;;
esac

rm -f /usr/lib/systemd/system/trellisd.service
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
  systemctl reset-failed trellisd.service 2>/dev/null || true
fi
for link in "/usr/bin/$exe" /usr/bin/trellis /usr/sbin/trellisd; do
  if [ -L "$link" ]; then rm -f "$link"; fi
done
if [ -f "/etc/apparmor.d/$exe" ]; then
  if command -v apparmor_parser >/dev/null 2>&1; then
    apparmor_parser --remove "/etc/apparmor.d/$exe" 2>/dev/null || true
  fi
  rm -f "/etc/apparmor.d/$exe"
fi

if [ "$1" = purge ]; then
  rm -rf /var/lib/trellis
  if getent group trellis >/dev/null 2>&1; then
    groupdel trellis || true
  fi
fi
exit 0
