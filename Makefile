# Mobayilo. `make dev` runs the whole app on a laptop; `make test` runs every
# test. Both set up what they need first (Postgres, the Temporal CLI).
SHELL := /bin/bash
GO ?= go
TEMPORAL_CLI_VERSION := v1.5.1
STRIPE_MOCK_VERSION := v0.203.0
# The real Temporal server, its SQL schema tool and the standalone Web UI
# server, for `mobayilo cluster` (internal/cluster): production's shape on
# our Postgres.
TEMPORAL_SERVER_VERSION := v1.29.1
TEMPORAL_UI_SERVER_VERSION := v2.42.1
# Code generators and linters are pinned in tools/go.mod, apart from the
# app's own dependencies.
TOOL := $(GO) tool -modfile=tools/go.mod

# The soak run's database (dropped and created): another name lets two
# soak runs share one Postgres.
SOAK_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/mobayilo_load_soak?sslmode=disable
# The cluster soak's (its Temporal's two databases are named after it).
SOAK_CLUSTER_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/mobayilo_load_soak_cluster?sslmode=disable
# The bench run's database (dropped and created, as the soak's).
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/mobayilo_load_bench?sslmode=disable

CLUSTER_BINS := bin/temporal-server bin/temporal-sql-tool bin/temporal-ui-server

.PHONY: check-compose check-image soak-cluster dev dev-metrics test test-js bench bench-go fuzz lint generate check-generate check-alerts build postgres chromium prometheus ci assets soak

## dev: set up and run everything locally: Postgres, migrations, the Temporal dev server with its UI, web and worker
dev: postgres bin/temporal assets build
	bin/mobayilo dev

## dev-metrics: the same, and a local Prometheus (Debian's) scraping the app, with the alerting rules loaded; its graph page's URL is logged
dev-metrics: postgres bin/temporal assets build prometheus
	bin/mobayilo dev -metrics

## test: everything the tests need (Postgres, the Temporal CLI, stripe-mock, Chromium, the assets), then every test with the race detector
test: postgres bin/temporal bin/stripe-mock $(CLUSTER_BINS) assets chromium prometheus test-js
	$(GO) test -race -count=1 ./...

## test-js: the front end's unit tests (the Voice SDK and simulator device adapters), with Node's built-in test runner
test-js: web/assets/node_modules/.package-lock.json
	cd web/assets && node --test src/

## bench: `mobayilo bench`, the app beside Temporal's floor in one run (about 20 minutes on two cores; see docs/OPERATIONS.md, Benchmarks), then the Go benchmarks; never part of CI
bench: postgres bin/temporal build bench-go
	@rm -rf test-output/bench && mkdir -p test-output
	bin/mobayilo bench -dir test-output/bench -report test-output/bench-report.json -database-url $(BENCH_DATABASE_URL)

## bench-go: the Go benchmarks: ledger postings per second, rate deck lookups
bench-go: postgres
	$(GO) test -run '^$$' -bench . -benchtime 3s ./internal/ledger/ ./internal/ratedeck/

## fuzz: a short run (a count of inputs per target, not a time: a -fuzztime duration races Go's fuzz coordinator on a loaded machine, golang/go#75804, and fails with "context deadline exceeded" having found nothing) of every fuzz test: number parsing, the calculate endpoint, and what strangers send (the Twilio and Stripe webhooks, the account forms, POST /calls; on a real database, POST /calls also on a Temporal dev server)
FUZZ = $(GO) test -run '^$$' -timeout 10m
fuzz: postgres bin/temporal assets
	$(FUZZ) -fuzz '^FuzzParseNumber$$' -fuzztime 20000x ./internal/rating/
	$(FUZZ) -fuzz '^FuzzCalculate$$' -fuzztime 3000x ./web/
	$(FUZZ) -fuzz '^FuzzTwilioVoice$$' -fuzztime 600x ./web/
	$(FUZZ) -fuzz '^FuzzTwilioStatus$$' -fuzztime 2000x ./web/
	$(FUZZ) -fuzz '^FuzzTwilioCallerID$$' -fuzztime 600x ./web/
	$(FUZZ) -fuzz '^FuzzStripeWebhook$$' -fuzztime 600x ./web/
	$(FUZZ) -fuzz '^FuzzSignUp$$' -fuzztime 600x ./web/
	$(FUZZ) -fuzz '^FuzzSignIn$$' -fuzztime 300x ./web/
	$(FUZZ) -fuzz '^FuzzSettings$$' -fuzztime 400x ./web/
	$(FUZZ) -fuzz '^FuzzContacts$$' -fuzztime 600x ./web/
	$(FUZZ) -fuzz '^FuzzStartCall$$' -fuzztime 200x ./web/

## lint: gofmt, go vet and staticcheck
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) mod tidy -diff
	$(GO) vet ./...
	$(TOOL) staticcheck ./...

## generate: regenerate the sqlc code in db/ from queries/ and db/migrations/
generate:
	$(TOOL) sqlc generate

## check-generate: fail when the committed sqlc code is stale
check-generate:
	@$(TOOL) sqlc diff || { echo "db/ is stale: run 'make generate' and commit the result"; exit 1; }

## check-alerts: the Prometheus alerting rules are valid and fire as their tests say (promtool, from Debian's prometheus package, installed when missing, as root)
check-alerts: prometheus
	promtool check rules docs/alerts.yml
	cd docs && promtool test rules alerts_test.yml

## build: the mobayilo binary in bin/ (always rebuilt; Go's cache makes that quick)
build: assets
	$(GO) build -o bin/mobayilo ./cmd/mobayilo

## soak: a short load and fault run (a few hundred calls and top-ups, duplicated and lost webhooks, worker kills, wallets drained mid-call, browser hang-ups with final callbacks lost) that must end with the books exact; see docs/OPERATIONS.md for long runs
soak: postgres bin/temporal build
	@rm -rf test-output/soak && mkdir -p test-output
	bin/mobayilo load -users 100 -calls 300 -topups 110 -concurrency 40 -dup 3 -loss 0.05 -delay 50ms \
		-kill-worker 45s -billing-faults 2 -browser-hangup 0.33 -duration 4m -drain 2m -dir test-output/soak -report test-output/soak-report.json \
		-database-url $(SOAK_DATABASE_URL)

## check-compose: docker-compose.yml is valid without an engine, and refuses to start without each required setting (Debian's docker-compose, installed when missing)
check-compose:
	@scripts/check-compose.sh

## check-image: the Dockerfile's stages replayed on a clean clone without Docker, and the binary they build started as the image runs it
check-image: postgres
	@scripts/check-image.sh

## soak-cluster: a shorter load and fault run in production's shape: the Temporal server on Postgres, two web instances behind the tool's load balancer and two workers, a web instance and a worker killed, Temporal and Postgres restarted, pages holding the live stream open; the same money check
soak-cluster: postgres $(CLUSTER_BINS) build
	@rm -rf test-output/soak-cluster && mkdir -p test-output
	bin/mobayilo load -shape cluster -webs 2 -workers 2 -users 40 -calls 120 -topups 45 -concurrency 20 -dup 3 -loss 0.05 -delay 50ms \
		-kill-worker 40s -kill-web 60s -restart-temporal -restart-postgres -browser-hangup 0.25 -watch-live 0.5 \
		-duration 4m -drain 2m -dir test-output/soak-cluster -report test-output/soak-cluster-report.json \
		-database-url $(SOAK_CLUSTER_DATABASE_URL)

## ci: what .ci/run runs
ci: test fuzz check-generate lint check-alerts check-compose check-image soak soak-cluster

## assets: bundle the front end (esbuild, Tailwind CLI) into web/assets/dist, embedded by the binary
assets: web/assets/node_modules/.package-lock.json
	cd web/assets && npm run --silent build

web/assets/node_modules/.package-lock.json: web/assets/package.json web/assets/package-lock.json
	cd web/assets && npm ci --no-audit --no-fund --loglevel=error

postgres:
	@scripts/postgres.sh

# Debian's Prometheus (server and promtool), for dev -metrics, its tests
# and check-alerts (installed when missing, as root).
prometheus:
	@scripts/prometheus.sh

# Debian's Chromium, for the browser test (installed when missing, as root).
chromium:
	@scripts/chromium.sh

# The Temporal CLI, built once from the Go module proxy (about 5 minutes) and
# reused. Later CLI versions cannot be `go install`ed.
bin/temporal:
	GOBIN=$(CURDIR)/bin $(GO) install github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_CLI_VERSION)

# The Temporal server and its SQL schema tool (about 15 minutes and 15 s to
# build the first time on two busy cores). `go install` names both after their
# directories (server, sql), so each is built in a scratch GOBIN and renamed.
bin/temporal-server:
	@d=$$(mktemp -d) && GOBIN=$$d $(GO) install go.temporal.io/server/cmd/server@$(TEMPORAL_SERVER_VERSION) && \
		mkdir -p bin && mv $$d/server $@ && rmdir $$d

bin/temporal-sql-tool:
	@d=$$(mktemp -d) && GOBIN=$$d $(GO) install go.temporal.io/server/cmd/tools/sql@$(TEMPORAL_SERVER_VERSION) && \
		mkdir -p bin && mv $$d/sql $@ && rmdir $$d

# The Temporal Web UI as its own server (about a minute to build): the CLI's
# bundled UI only serves its own dev server, not a remote frontend.
bin/temporal-ui-server:
	@d=$$(mktemp -d) && GOBIN=$$d $(GO) install github.com/temporalio/ui-server/v2/cmd/server@$(TEMPORAL_UI_SERVER_VERSION) && \
		mkdir -p bin && mv $$d/server $@ && rmdir $$d

# Stripe's own API mock, for the tests of our Stripe client (the tests start
# it on loopback ports).
bin/stripe-mock:
	GOBIN=$(CURDIR)/bin $(GO) install github.com/stripe/stripe-mock@$(STRIPE_MOCK_VERSION)
