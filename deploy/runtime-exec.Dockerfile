# Runlet's exec runtime image: the runtime server for functions that are any program
# (runtimes/exec, docs/exec.md), with the runtimes/shared modules it imports.
# Build from the repository root:
#   docker build -f deploy/runtime-exec.Dockerfile -t REGISTRY/runlet/runtime-exec:0.1.0 .
# The test suite writes the same image without Docker (test/k8s/images/image-specs.ts);
# test/k8s/images.test.ts checks that both agree on entrypoint, user, ports and files.
FROM node:20.20.2-bookworm-slim

ENV NODE_ENV=production PORT=8888
WORKDIR /opt/runlet
COPY runtimes/shared/ /opt/runlet/runtimes/shared/
COPY runtimes/exec/ /opt/runlet/runtimes/exec/
RUN groupadd --gid 10001 runlet \
 && useradd --uid 10001 --gid 10001 --home-dir /home/runlet --create-home --shell /usr/sbin/nologin runlet

USER 10001:10001
EXPOSE 8888/tcp
ENTRYPOINT ["node", "/opt/runlet/runtimes/exec/server.mjs"]
