# The one Palisade image: palisade-node, palisade-cni, palisade-controllers and
# palisadectl in /usr/local/bin. manifests/palisade.yaml runs every container from it.
#
#   docker build --build-arg VERSION=v0.1.0 -t ghcr.io/palisadenet/palisade:v0.1.0 .
ARG GO_VERSION=1.26

FROM golang:${GO_VERSION}-bookworm AS build
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Static binaries: palisade-cni runs on the host, whatever its libc.
RUN set -eu; mkdir /out; \
    for cmd in palisade-node palisade-cni palisade-controllers palisadectl; do \
      CGO_ENABLED=0 go build -trimpath -buildvcs=false \
        -ldflags "-s -w -X github.com/palisadenet/palisade/internal/version.Version=${VERSION}" \
        -o /out/$cmd ./cmd/$cmd; \
    done

FROM debian:bookworm-slim
# The iptables backend drives iptables-restore and ipset; nft and ip are for operators
# debugging from inside the pod. The nftables backend itself talks netlink.
RUN apt-get update \
 && apt-get install -y --no-install-recommends iptables ipset nftables iproute2 conntrack ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /usr/local/bin/
LABEL org.opencontainers.image.source="https://github.com/palisadenet/palisade" \
      org.opencontainers.image.description="Palisade: Kubernetes node networking that speaks Calico's API"
ENTRYPOINT []
CMD ["/usr/local/bin/palisade-node"]
