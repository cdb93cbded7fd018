#!/usr/bin/env bash
# Makes sure a Chromium is there for the browser tests (web/browsertest).
#
# - CHROMIUM_PATH set: that binary is used as it is (it must be executable).
# - Otherwise Debian's chromium (/usr/bin/chromium, or `chromium` on PATH):
#   reused when present; installed from Debian's packages when missing and we
#   are root. Never downloads a browser build of its own.
#
# Quiet when the browser is already there, so it can run before every test.
set -euo pipefail

if [ -n "${CHROMIUM_PATH:-}" ]; then
  if [ -x "$CHROMIUM_PATH" ]; then
    exit 0
  fi
  echo "chromium: CHROMIUM_PATH=$CHROMIUM_PATH is not an executable file" >&2
  exit 1
fi

present() { [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1; }

if present; then
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  cat >&2 <<'MSG'
chromium: no Chromium found for the browser tests. Install Debian's package
(sudo apt-get install chromium), or point CHROMIUM_PATH at a Chromium or
Chrome binary you have. Then run this again.
MSG
  exit 1
fi

echo "chromium: installing Debian's chromium"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# fonts-liberation is only a Recommends of chromium: ask for it so pages
# (and screenshots) get real fonts on machines that skip recommends.
apt-get install -y -qq chromium fonts-liberation >/dev/null
if ! present; then
  echo "chromium: installed, but /usr/bin/chromium is missing" >&2
  exit 1
fi
echo "chromium: installed $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
