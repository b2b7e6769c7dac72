#!/bin/sh
# Starts the Trellis helper (trellisd) or CLI (trellis), whichever name this script was installed
# as, with the Node.js runtime inside the Trellis app: the app's Electron binary run as plain
# Node (ELECTRON_RUN_AS_NODE=1), so the package needs no separate Node.js.
#
# Layout (electron-builder extraResources): <app>/resources/helper/bin/<this script>, the
# compiled helper in <app>/resources/helper/dist/helper/, its modules in
# <app>/resources/helper/node_modules/. The Electron binary is <app>/trellis-desktop (Linux)
# or Trellis.app/Contents/MacOS/Trellis (macOS). Links to this script (/usr/bin/trellis) work:
# the script finds itself through them.
#
# Without that binary (a source checkout, a build machine without Electron) it says so and
# falls back to `node` (>= 20) from TRELLIS_NODE or PATH.
set -eu

name=$(basename "$0")
case "$name" in
  trellisd | trellis) ;;
  *) name=trellisd ;;
esac

self=$(readlink -f -- "$0" 2>/dev/null || echo "$0")
bin_dir=$(CDPATH='' cd -- "$(dirname -- "$self")" && pwd -P)
helper_dir=$(dirname -- "$bin_dir")
resources_dir=$(dirname -- "$helper_dir")
entry="$helper_dir/dist/helper/$name.js"

if [ ! -f "$entry" ]; then
  echo "$name: $entry is missing: the Trellis helper is not installed completely" >&2
  exit 127
fi

if [ -n "${TRELLIS_ELECTRON:-}" ]; then
  electron=$TRELLIS_ELECTRON
elif [ -x "$resources_dir/../MacOS/Trellis" ]; then
  electron="$resources_dir/../MacOS/Trellis"
else
  electron="$(dirname -- "$resources_dir")/trellis-desktop"
fi

if [ -x "$electron" ]; then
  ELECTRON_RUN_AS_NODE=1
  export ELECTRON_RUN_AS_NODE
  exec "$electron" "$entry" "$@"
fi

node=${TRELLIS_NODE:-$(command -v node || true)}
if [ -z "$node" ] || [ ! -x "$node" ]; then
  echo "$name: the Electron binary ($electron) is missing and no Node.js was found (set TRELLIS_NODE); reinstall Trellis" >&2
  exit 127
fi
major=$("$node" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
  echo "$name: the Electron binary ($electron) is missing and $node is Node.js $major; Trellis needs 20 or later" >&2
  exit 127
fi
echo "$name: the Electron binary ($electron) is missing; running under $node (Node.js $major) instead" >&2
exec "$node" "$entry" "$@"
