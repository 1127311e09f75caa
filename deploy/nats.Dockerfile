# NATS with JetStream for Runlet's Kubernetes install: the async call queue that the gateway
# replicas share, and NATS triggers. nats-server is built from its Go module, as the test
# suite builds it (test/k8s/tools/build.sh), on an image with nothing else in it.
# Build from the repository root:
#   docker build -f deploy/nats.Dockerfile -t REGISTRY/runlet/nats:2.15.3 .
# The test suite writes the same image without Docker (test/k8s/images/image-specs.ts);
# test/k8s/images.test.ts checks that both agree on entrypoint, user, ports and files.
FROM golang:1.26.8-bookworm AS build
RUN CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" github.com/nats-io/nats-server/v2@v2.15.3

FROM scratch
COPY --from=build /go/bin/nats-server /usr/local/bin/nats-server
COPY deploy/nats/nats-server.conf /etc/nats/nats-server.conf

WORKDIR /
USER 10001:10001
EXPOSE 4222/tcp 8222/tcp
ENTRYPOINT ["nats-server", "--config", "/etc/nats/nats-server.conf"]
