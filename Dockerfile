# syntax=docker/dockerfile:1
#
# dtbridge container image: a static binary on distroless, running as the
# distroless "nonroot" user (uid/gid 65532).
#
#   docker build --build-arg VERSION=$(git describe --tags --always) \
#                --build-arg COMMIT=$(git rev-parse HEAD) -t dtbridge .

FROM golang:1.26-bookworm AS build
ARG VERSION=dev
ARG COMMIT=unknown
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/dtbridge/dtbridge/pkg/cli.version=${VERSION} -X github.com/dtbridge/dtbridge/pkg/cli.commit=${COMMIT}" \
      -o /dtbridge ./cmd/dtbridge \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /dtbridge /dtbridge
# data.dir (embedded JetStream store, generated auth token). Created owned by
# nonroot so a named volume mounted here starts out writable.
COPY --from=build --chown=65532:65532 /out/data /data
ENV DTBRIDGE_DATA_DIR=/data
EXPOSE 8080
ENTRYPOINT ["/dtbridge"]
CMD ["serve"]
