#!/usr/bin/env bash
# Proves the container image's binary would start, without Docker: replays
# the Dockerfile's build stages on a clean clone (its RUN steps as written:
# the front end's `npm ci` and build in the assets stage, the Go build in
# the build stage), then starts the binary they built as the image runs it
# (APP_ENV=production, every required setting given) against the local
# Postgres, and checks /healthz answers and a bundled asset is served. A
# Dockerfile that stops building the front end fails here: the binary
# refuses to start without it.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  psql -q -h 127.0.0.1 -U postgres -d postgres -c 'DROP DATABASE IF EXISTS mobayilo_image_check WITH (FORCE)' >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# The build context: what a clean clone holds (committed files only).
git clone -q "$repo" "$work/src"
ctx="$work/src"

# RUN steps of one stage of the Dockerfile, in order.
runs() { awk -v stage="$1" '/^FROM /{cur=$NF} /^RUN /{if (cur==stage) {sub(/^RUN /, ""); print}}' "$ctx/Dockerfile"; }
for stage in assets build; do
  if [ -z "$(runs "$stage")" ]; then
    echo "check-image: the Dockerfile has no RUN steps in a stage named $stage" >&2
    exit 1
  fi
done
grep -q '^COPY --from=assets /src/web/assets/dist ./web/assets/dist' "$ctx/Dockerfile" || {
  echo "check-image: the build stage does not copy the assets stage's web/assets/dist" >&2
  exit 1
}

echo "check-image: the assets stage (WORKDIR /src/web/assets)"
(cd "$ctx/web/assets" && runs assets | while read -r step; do echo "  RUN $step"; bash -ec "$step"; done)
echo "check-image: the build stage (WORKDIR /src; /out is $work/out)"
(cd "$ctx" && runs build | sed "s#/out/#$work/out/#g" | while read -r step; do echo "  RUN $step"; bash -ec "$step"; done)
bin="$work/out/mobayilo"
[ -x "$bin" ] || { echo "check-image: the build stage made no $bin" >&2; exit 1; }

# Start it as the image does: production, every required setting given
# (throwaway values), on loopback.
psql -q -h 127.0.0.1 -U postgres -d postgres -c 'DROP DATABASE IF EXISTS mobayilo_image_check WITH (FORCE)' >/dev/null
psql -q -h 127.0.0.1 -U postgres -d postgres -c 'CREATE DATABASE mobayilo_image_check' >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
key=$(head -c 32 /dev/urandom | base64)
export APP_ENV=production HTTP_ADDR="127.0.0.1:$port" PUBLIC_BASE_URL="https://calls.example.com" METRICS_ADDR=off \
  DATABASE_URL="postgres://postgres@127.0.0.1:5432/mobayilo_image_check?sslmode=disable" \
  TEMPORAL_ADDRESS=127.0.0.1:1 TEMPORAL_INSECURE=true TEMPORAL_CODEC_KEYS="check:$key" \
  SESSION_SECRET="$(head -c 48 /dev/urandom | base64)" \
  TWILIO_ACCOUNT_SID=ACcheck TWILIO_AUTH_TOKEN=check TWILIO_API_KEY=SKcheck TWILIO_API_SECRET=check \
  TWILIO_TWIML_APP_SID=APcheck TWILIO_CALLER_ID=+14155550123 \
  STRIPE_SECRET_KEY=sk_live_check STRIPE_PUBLISHABLE_KEY=pk_live_check STRIPE_WEBHOOK_SECRET=whsec_check \
  SMTP_HOST=127.0.0.1 SMTP_FROM=calls@example.com CARRIER_SIMULATOR=false PAYMENT_SIMULATOR=false \
  ALLOWED_COUNTRIES=NG,GH DAILY_SPEND_LIMIT_CENTS=5000 DAILY_CALL_LIMIT=50 TRUSTED_PROXIES=none
"$bin" migrate >"$work/migrate.log" 2>&1 || { cat "$work/migrate.log" >&2; exit 1; }
"$bin" web >"$work/web.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then echo "check-image: the image's binary exited at start:" >&2; cat "$work/web.log" >&2; exit 1; fi
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || { echo "check-image: /healthz never answered" >&2; cat "$work/web.log" >&2; exit 1; }
asset=$(curl -fsS "http://127.0.0.1:$port/rates" | grep -o '/assets/app\.[0-9a-f]*\.js' | head -1)
[ -n "$asset" ] || { echo "check-image: the rates page names no bundled app.js" >&2; exit 1; }
curl -fsS -o /dev/null "http://127.0.0.1:$port$asset" || { echo "check-image: $asset is not served" >&2; exit 1; }
echo "check-image: the image's binary starts as production, /healthz answers and serves $asset"
