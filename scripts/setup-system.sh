#!/usr/bin/env bash
# Installs the Debian packages Trellis's tests and lab need. Idempotent: skips apt entirely when
# everything is already present.
set -euo pipefail
# gcc, libc6-dev, shellcheck, systemd (systemd-analyze), gcc-mingw-w64-x86-64 (the Windows
# service host): e2e/packaging.test.ts.
PKGS=(coturn postgresql wireguard-go wireguard-tools iproute2 iputils-ping nftables iptables conntrack miniupnpd-nftables iperf3 chromium dbus gnome-keyring xvfb procps openssl gcc libc6-dev shellcheck systemd gcc-mingw-w64-x86-64)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup-system: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# coturn's package starts a system turnserver on 3478; tests start their own on other ports.
if command -v systemctl >/dev/null && systemctl is-active --quiet coturn 2>/dev/null; then
  systemctl stop coturn || true
fi
