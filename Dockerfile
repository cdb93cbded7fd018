# The one mobayilo binary; docker-compose.yml runs it as migrate, web and
# worker. The front end is bundled in a stage of its own (Node, from the
# same lock file) and embedded in the binary: a binary built without it
# refuses to start. scripts/check-image.sh replays these steps on a clean
# clone without Docker, and starts the binary they build (CI).

# The front end: esbuild and the Tailwind CLI, as `make assets` runs them.
FROM node:20-bookworm AS assets
WORKDIR /src/web/assets
COPY web/assets/package.json web/assets/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY web/assets/ ./
RUN npm run --silent build

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
COPY --from=assets /src/web/assets/dist ./web/assets/dist
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/mobayilo ./cmd/mobayilo

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/mobayilo /usr/local/bin/mobayilo
# The roles refuse to start without APP_ENV; an image runs as production
# unless told otherwise.
ENV APP_ENV=production
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/mobayilo"]
