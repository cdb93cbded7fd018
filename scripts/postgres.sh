#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers for the app and its tests.
#
# - DATABASE_URL or TEST_DATABASE_URL set: that server is used as it is.
# - Otherwise the local server on 127.0.0.1:5432 (user postgres, trust auth):
#   reused when it answers; started with pg_ctlcluster when installed but
#   stopped; installed from Debian's packages when missing and we are root
#   (then local connections from 127.0.0.1 are trusted, as on a dev box).
set -euo pipefail

if [ -n "${DATABASE_URL:-}${TEST_DATABASE_URL:-}" ]; then
  echo "postgres: using the server in ${TEST_DATABASE_URL:+TEST_}DATABASE_URL"
  exit 0
fi

answers() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }

# can_log_in checks that user postgres gets in from 127.0.0.1 without a
# password, as the app's and tests' defaults expect (when psql is there).
can_log_in() {
  command -v psql >/dev/null 2>&1 || return 0
  PGCONNECT_TIMEOUT=5 psql -h 127.0.0.1 -U postgres -d postgres -w -Atqc 'SELECT 1' >/dev/null 2>&1
}

login_hint() {
  cat >&2 <<'MSG'
postgres: a server answers on 127.0.0.1:5432 but user postgres cannot log in
without a password. Allow it from loopback (pg_hba.conf:
"host all postgres 127.0.0.1/32 trust", then reload), or set DATABASE_URL
(and TEST_DATABASE_URL) to a URL with credentials.
MSG
  exit 1
}

wait_for_it() {
  for _ in $(seq 1 60); do
    answers && return 0
    sleep 0.5
  done
  echo "postgres: started, but nothing answers on 127.0.0.1:5432 after 30s" >&2
  exit 1
}

start_clusters() {
  local started=0
  for dir in /etc/postgresql/*/*/; do
    [ -d "$dir" ] || continue
    local version cluster
    version=$(basename "$(dirname "$dir")")
    cluster=$(basename "$dir")
    echo "postgres: starting cluster $version/$cluster"
    pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start || true
    started=1
  done
  [ "$started" = 1 ]
}

if answers; then
  can_log_in || login_hint
  echo "postgres: a server answers on 127.0.0.1:5432"
  exit 0
fi

if command -v pg_ctlcluster >/dev/null 2>&1 && start_clusters; then
  wait_for_it
  can_log_in || login_hint
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  cat >&2 <<'MSG'
postgres: nothing answers on 127.0.0.1:5432 and PostgreSQL is not installed.
Install it (Debian: sudo apt-get install postgresql), allow user postgres to
connect from 127.0.0.1 without a password (trust in pg_hba.conf), start it,
or point DATABASE_URL at a server you have. Then run this again.
MSG
  exit 1
fi

echo "postgres: installing Debian's postgresql"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq postgresql >/dev/null
for hba in /etc/postgresql/*/main/pg_hba.conf; do
  # A machine we set up ourselves: trust user postgres from loopback only.
  if ! grep -q '^# mobayilo: loopback trust' "$hba"; then
    tmp=$(mktemp)
    {
      echo '# mobayilo: loopback trust for local development and CI'
      echo 'host all postgres 127.0.0.1/32 trust'
      echo 'host all postgres ::1/128 trust'
      cat "$hba"
    } >"$tmp"
    cat "$tmp" >"$hba"
    rm -f "$tmp"
  fi
done
# The package may have started the cluster already (on a machine with a
# service manager): restart so the pg_hba.conf lines above take effect.
for dir in /etc/postgresql/*/*/; do
  [ -d "$dir" ] || { echo "postgres: installed, but no cluster was created" >&2; exit 1; }
  pg_ctlcluster --skip-systemctl-redirect "$(basename "$(dirname "$dir")")" "$(basename "$dir")" restart
done
wait_for_it
can_log_in || login_hint
echo "postgres: installed and running on 127.0.0.1:5432"
