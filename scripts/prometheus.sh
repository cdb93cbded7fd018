#!/usr/bin/env bash
# Makes sure Debian's prometheus (the server and promtool) is there: for
# `mobayilo dev -metrics`, its test, and `make check-alerts`. Installed from
# Debian's packages when missing and we are root; quiet when present.
set -euo pipefail

if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "prometheus: not installed; install Debian's package (sudo apt-get install prometheus) and run this again" >&2
  exit 1
fi
echo "prometheus: installing Debian's prometheus"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends prometheus >/dev/null
# The package starts a system-wide server on :9090; the app starts its own.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
if [ -x /etc/init.d/prometheus ]; then /etc/init.d/prometheus stop >/dev/null 2>&1 || true; fi
echo "prometheus: installed $(prometheus --version 2>&1 | head -1)"
