# syntax=docker/dockerfile:1
# dynamite in one image; the command picks the role (scheduler, worker, run, fleet-emulator, status, ...).
#   docker build -t dynamite .
#   docker run --rm dynamite --help
# Stages: manifests (package.json files only, for a cached npm ci), build (dev dependencies, tsc), prod-deps
# (production dependencies only), runtime (node, production node_modules, compiled code; runs as the user `node`).

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS manifests
WORKDIR /app
COPY package.json package-lock.json ./
COPY libs/unit-files/package.json libs/unit-files/
COPY libs/domain/package.json libs/domain/
COPY libs/fleet-client/package.json libs/fleet-client/
COPY libs/config-loader/package.json libs/config-loader/
COPY libs/store/package.json libs/store/
COPY libs/queues/package.json libs/queues/
COPY libs/engine/package.json libs/engine/
COPY libs/operator/package.json libs/operator/
COPY apps/fleet-emulator/package.json apps/fleet-emulator/
COPY apps/worker/package.json apps/worker/
COPY apps/scheduler/package.json apps/scheduler/
COPY apps/demo/package.json apps/demo/
COPY apps/cli/package.json apps/cli/

# Build with the dev dependencies (typescript). Only the apps and their libs are compiled, not tests or benches.
FROM manifests AS build
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.base.json ./
COPY libs libs
COPY apps apps
RUN npx tsc -b apps/cli/tsconfig.json \
 && find libs apps -mindepth 2 -maxdepth 2 ! -name dist ! -name package.json -exec rm -rf {} + \
 && find libs apps -name '*.tsbuildinfo' -delete

# Production dependencies only (no nx, tsx, playwright). typescript is marked devOptional in the lockfile (an optional
# peer of valibot, under @bull-board/api, which only uses its types), so --omit=dev keeps it: remove it by hand.
FROM manifests AS prod-deps
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts \
 && rm -rf node_modules/typescript node_modules/.bin/tsc node_modules/.bin/tsserver \
 && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# Everything belongs to root and is read-only for the user the engine runs as.
COPY --from=prod-deps /app/package.json ./package.json
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/libs ./libs
COPY --from=build /app/apps ./apps
COPY bin ./bin
COPY examples ./examples
USER node
# 8080: the scheduler's operator listener (--http: Bull Board, /api, /metrics, /healthz, /readyz).
# 49153: the fleet emulator's API (demo only).
EXPOSE 8080 49153
ENTRYPOINT ["node","bin/dynamite.js"]
CMD ["--help"]
