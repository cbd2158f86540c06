# syntax=docker/dockerfile:1
#
# Gatehouse as a container image: Node 24 runs the TypeScript sources directly (type stripping),
# so the image holds the sources, the production dependencies and the shipped policies, nothing
# else. Build:   docker build -t gatehouse:dev .
# Size:          docker image ls gatehouse:dev   (Gatehouse adds ~16 MB to the base image)
#
# The base is pinned to an exact Node release; for reproducible production builds pin its digest
# too:  docker build --build-arg NODE_IMAGE=node:24.21.0-bookworm-slim@sha256:<digest> .
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

# Stage 1: production dependencies only (no dev tools, no install scripts).
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# Stage 2: the runtime. Runs as the image's unprivileged `node` user (uid 1000) and writes nothing
# outside /var/run/gatehouse (its compile cache is read-only), so it works with a read-only root
# filesystem: mount a writable volume there (an emptyDir shared with the app in Kubernetes) for
# the event socket.
FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    NODE_COMPILE_CACHE=/app/.compile-cache \
    MALLOC_ARENA_MAX=2 \
    GATEHOUSE_LISTEN=0.0.0.0:8080 \
    GATEHOUSE_EVENTS_SOCKET=/var/run/gatehouse/events.sock
WORKDIR /app
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --chown=root:root package.json ./
COPY --chown=root:root cmd ./cmd
COPY --chown=root:root src ./src
COPY --chown=root:root policies ./policies
RUN mkdir -p /var/run/gatehouse /app/.compile-cache \
 && chown node:node /var/run/gatehouse /app/.compile-cache
VOLUME ["/var/run/gatehouse"]
USER node
# Node's compile cache, filled at build time by loading every module once (`version` imports the
# whole CLI): each start then reads the type-stripped sources and V8 code from it instead of
# loading the TypeScript stripper, ~20 MB less RSS and a faster start. Node keys it by its
# version, the user id and some V8 flags (--expose-gc among them), so it is filled as the `node`
# user with the ENTRYPOINT's flags, then made read-only. Another uid or other flags at run time
# find nothing in it and start as before, slower and with the stripper loaded.
RUN node --max-semi-space-size=16 --expose-gc cmd/gatehouse.ts version \
 && chmod -R a-w /app/.compile-cache
EXPOSE 8080 9090
# The admin server answers /healthz on 127.0.0.1:9090 by default; probe it with Node itself (the
# slim image has no curl). If GATEHOUSE_ADMIN_LISTEN moves it, set HEALTHCHECK_URL to match.
ENV HEALTHCHECK_URL=http://127.0.0.1:9090/healthz
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.HEALTHCHECK_URL).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# V8 flags (and MALLOC_ARENA_MAX above) as src/v8-flags.ts lists them (a test keeps them in step).
ENTRYPOINT ["node", "--max-semi-space-size=16", "--expose-gc", "cmd/gatehouse.ts"]
CMD ["serve"]
