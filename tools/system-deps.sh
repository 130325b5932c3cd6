#!/usr/bin/env bash
# Make sure the Debian packages ledctl needs are present.
# As root: install the missing ones with apt-get. Otherwise: print the exact command and fail.
set -euo pipefail

# package  file-that-proves-it-is-installed
required=(
  "fonts-unifont /usr/share/fonts/opentype/unifont/unifont.otf"
  "xfonts-wqy /usr/share/fonts/X11/misc/wenquanyi_12pt.pcf"
)

missing=()
for entry in "${required[@]}"; do
  pkg=${entry%% *}
  file=${entry#* }
  [ -e "$file" ] || missing+=("$pkg")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "ledctl needs these Debian packages: ${missing[*]}" >&2
  echo "Install them with:" >&2
  echo "    sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
