# Runlet's platform image: `runlet up` (gateway, executor, store) with its production
# dependencies, listening on 8080. Its state (SQLite, packages) lives in /var/lib/runlet:
# mount a volume there.
# Build from the repository root, after `npm ci && npm run build` (dist/ is copied in):
#   docker build -f deploy/platform.Dockerfile -t REGISTRY/runlet/platform:0.1.0 .
# The test suite writes the same image without Docker (test/k8s/images/image-specs.ts);
# test/k8s/images.test.ts checks that both agree on entrypoint, user, ports and files.
FROM node:20.20.2-bookworm-slim AS dependencies
WORKDIR /opt/runlet
COPY package.json package-lock.json ./
# Production dependencies only; better-sqlite3's install script fetches or builds its addon.
RUN npm ci --omit=dev

FROM node:20.20.2-bookworm-slim

ENV NODE_ENV=production
WORKDIR /opt/runlet
COPY --from=dependencies /opt/runlet/node_modules/ /opt/runlet/node_modules/
COPY package.json /opt/runlet/package.json
COPY bin/ /opt/runlet/bin/
COPY dist/ /opt/runlet/dist/
COPY runtimes/ /opt/runlet/runtimes/
COPY templates/ /opt/runlet/templates/
RUN groupadd --gid 10001 runlet \
 && useradd --uid 10001 --gid 10001 --home-dir /home/runlet --create-home --shell /usr/sbin/nologin runlet \
 && install -d -o 10001 -g 10001 -m 0700 /var/lib/runlet

USER 10001:10001
EXPOSE 8080/tcp
ENTRYPOINT ["node", "/opt/runlet/bin/runlet.js"]
CMD ["up", "--host", "0.0.0.0", "--port", "8080", "--data-dir", "/var/lib/runlet", "--pool-size", "0"]
