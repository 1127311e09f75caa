# Runlet's Python runtime image: the runtime server (runtimes/python, standard library only)
# that every Python function pod runs, generic until POST /v2/specialize loads a function.
# Build from the repository root:
#   docker build -f deploy/runtime-python.Dockerfile -t REGISTRY/runlet/runtime-python:0.1.0 .
# The test suite writes the same image without Docker (test/k8s/images/image-specs.ts);
# test/k8s/images.test.ts checks that both agree on entrypoint, user, ports and files.
FROM python:3.11.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PORT=8888
WORKDIR /opt/runlet
COPY runtimes/python/ /opt/runlet/runtimes/python/
RUN groupadd --gid 10001 runlet \
 && useradd --uid 10001 --gid 10001 --home-dir /home/runlet --create-home --shell /usr/sbin/nologin runlet

USER 10001:10001
EXPOSE 8888/tcp
ENTRYPOINT ["python3", "/opt/runlet/runtimes/python/server.py"]
