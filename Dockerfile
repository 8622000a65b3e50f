# The chaos-agent image: the ephemeral container chaos-run adds to a target pod.
# One static Go binary (agent/, CGO off) on a small Debian with iproute2 (tc, ip) and
# iptables (both the nft and the legacy backend; the agent picks the one that works).
#   docker build -t chaos-agent .
FROM golang:1.26-bookworm AS build
# the module proxy the build downloads from (docker build --build-arg GOPROXY=...)
ARG GOPROXY=https://proxy.golang.org,direct
ARG VERSION=dev
ENV GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOPROXY=${GOPROXY}
WORKDIR /src
COPY agent/go.mod agent/go.sum ./
RUN go mod download
COPY agent/ ./
RUN go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/chaos-agent ./cmd/chaos-agent

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends iproute2 iptables \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/chaos-agent /usr/local/bin/chaos-agent
ENTRYPOINT ["chaos-agent"]
CMD ["serve"]
