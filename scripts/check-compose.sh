#!/usr/bin/env bash
# Validates docker-compose.yml without an engine (`docker-compose config`,
# Debian's docker-compose package, installed when missing as root): with
# every required variable set (testdata/compose/required.env) it must be
# valid and run web and worker as production with /readyz health checks;
# without any one of them it must refuse, naming it.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v docker-compose >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then echo "check-compose: install Debian's docker-compose package" >&2; exit 1; fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
fi
env_file=testdata/compose/required.env
# Run without the caller's environment, so only the file's values count.
config() { env -i PATH="$PATH" HOME="$HOME" docker-compose -f docker-compose.yml --env-file "$1" config; }
out=$(config "$env_file")
for want in 'APP_ENV: production' 'command:' '- web' '- worker' 'http://127.0.0.1:8080/readyz' 'http://127.0.0.1:9465/readyz' \
  'image: temporalio/server:1.29.1' 'update-schema --schema-name' '127.0.0.1:8080-8089'; do
  grep -qF -- "$want" <<<"$out" || { echo "check-compose: the resolved file lacks: $want" >&2; exit 1; }
done
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
while IFS= read -r line; do
  case "$line" in ''|'#'*) continue ;; esac
  name=${line%%=*}
  grep -v "^$name=" "$env_file" >"$tmp"
  if err=$(config "$tmp" 2>&1 >/dev/null); then
    echo "check-compose: valid without $name: it must be required" >&2; exit 1
  fi
  grep -q "$name" <<<"$err" || { echo "check-compose: without $name the error does not name it: $err" >&2; exit 1; }
done <"$env_file"
echo "check-compose: docker-compose.yml is valid, and refuses to start without any of its $(grep -c '^[A-Z]' "$env_file") required settings"
