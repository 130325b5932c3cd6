#!/usr/bin/env bash
# Make sure the Debian packages ledctl needs are present.
# As root: install the missing ones with apt-get. Otherwise: print the exact command and fail.
set -euo pipefail

PYTHON=${PYTHON:-python3}

# package|a check that passes when what we need from it is there
required=(
  "fonts-unifont|test -e /usr/share/fonts/opentype/unifont/unifont.otf"
  "xfonts-wqy|test -e /usr/share/fonts/X11/misc/wenquanyi_12pt.pcf"
  "python3-venv|$PYTHON -c 'import ensurepip, venv'"
  "mosquitto|test -x /usr/sbin/mosquitto"
  "chromium|test -x /usr/bin/chromium"   # the console's browser tests (Playwright drives it)
)

missing=()
for entry in "${required[@]}"; do
  pkg=${entry%%|*}
  check=${entry#*|}
  eval "$check" >/dev/null 2>&1 || missing+=("$pkg")
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
