# The one mobayilo binary; docker-compose.yml runs it as migrate, web and worker.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/mobayilo ./cmd/mobayilo

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/mobayilo /usr/local/bin/mobayilo
# The roles refuse to start without APP_ENV; an image runs as production
# unless told otherwise.
ENV APP_ENV=production
ENTRYPOINT ["/usr/local/bin/mobayilo"]
