# The chaos-agent image: the ephemeral container chaos-run adds to a target pod. It runs as root
# with NET_ADMIN in users' pods, so it carries nothing an intruder could use: no shell, no package
# manager, no tc, nft or ss — the agent changes qdiscs, filters and nftables tables, and destroys
# sockets, over netlink itself. What it still runs is copied in from Debian with the libraries it
# links: iptables, both backends, for the firewall faults (partition, http) where the node's kernel
# has no nf_tables that can hold their tables, and for an earlier agent's iptables chains an orphan
# scan or a sweep reverts. 10.6 MB unpacked (4.1 MB as a node pulls it), of which 6 are the agent.
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

# The programs the agent still runs, each with the shared libraries it links (as ldd lists them)
# and iptables' extensions, laid out in /rootfs as they are in Debian.
FROM debian:bookworm-slim AS programs
RUN apt-get update \
 && apt-get install -y --no-install-recommends iptables \
 && rm -rf /var/lib/apt/lists/*
RUN set -eu; mkdir -p /rootfs/run /rootfs/tmp; chmod 1777 /rootfs/tmp; \
    for p in /usr/sbin/xtables-nft-multi /usr/sbin/xtables-legacy-multi; do \
      cp -a --parents "$p" /rootfs; \
      ldd "$p" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | while read -r lib; do \
        cp -L --parents "$lib" /rootfs; \
      done; \
    done; \
    cp -a --parents /usr/lib/*/xtables /rootfs; \
    for b in iptables ip6tables; do for v in nft legacy; do for s in "" -save -restore; do \
      ln -s "xtables-$v-multi" "/rootfs/usr/sbin/$b-$v$s"; \
    done; done; done

FROM scratch
COPY --from=programs /rootfs/ /
COPY --from=build /out/chaos-agent /usr/local/bin/chaos-agent
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ENTRYPOINT ["chaos-agent"]
CMD ["serve"]
