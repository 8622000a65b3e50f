# The chaos-agent image: the ephemeral container chaos-run adds to a target pod.
# A POSIX-sh program over iproute2 (tc, ip) and iptables (nft and legacy; the
# agent picks the backend that works on the node).
#   docker build -t chaos-agent .
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends iproute2 iptables \
 && rm -rf /var/lib/apt/lists/*
COPY agent/chaos-agent /usr/local/bin/chaos-agent
RUN chmod 0755 /usr/local/bin/chaos-agent
ENTRYPOINT ["chaos-agent"]
CMD ["serve"]
