#!/bin/sh
# deb prerm / rpm %preun for the Trellis package (passed to fpm as --before-remove).
#
#   deb: prerm <remove | upgrade | deconfigure | failed-upgrade>    rpm: %preun <0 = erase, 1 = upgrade>
#
# On removal the helper is stopped while its files still exist, so it removes its interface,
# routes, firewall table and DNS settings itself. On upgrade nothing happens here: the new
# package's after-install restarts it.
set -e

case "$1" in
  remove | deconfigure | 0) ;;
  *) exit 0 ;;
esac
if [ -d /run/systemd/system ]; then
  systemctl disable --now trellisd.service || true
fi
exit 0
