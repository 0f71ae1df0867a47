# The chat service's image: web build -> production dependencies -> slim non-root runtime.
#
#   docker build -t chatbot:dev --build-arg VERSION=1.2.3 --build-arg REVISION=$(git rev-parse HEAD) .
#   docker run IMAGE                      serves on API_PORT (default 8000)
#   docker run IMAGE migrate              applies pending migrations, exits 0
#   docker run IMAGE token --sub ops --role platform_admin
#                                         prints a JWT signed with JWT_PRIVATE_KEY
#
# Needs BuildKit (cache mounts). No `# syntax=` line on purpose: everything used here is in
# the Dockerfile frontend built into BuildKit, so building never pulls a frontend image
# (air-gapped builders and registry mirrors work as they are).
#
# Node is PID 1 and receives SIGTERM itself (exec-form ENTRYPOINT, no shell in between); the
# service drains and exits 0. Stop it with a timeout above SHUTDOWN_GRACE_MS (default 25 s):
# `docker stop -t 30`. `docker run --init` is optional: a tiny init becomes PID 1 and forwards
# signals; it also lets a plain SIGTERM end the short `migrate` and `token` commands, which
# install no handler (as PID 1 without --init they ignore it until `docker stop` kills them).
#
# Build arguments: NODE_IMAGE (base of every stage), NPM_CONFIG_REGISTRY (an npm mirror),
# VERSION (shown by /health), REVISION, SOURCE, CREATED (OCI labels).

# Every stage starts from this image, so a mirror or air-gapped registry can be named.
ARG NODE_IMAGE=node:24-bookworm-slim

# --- Stage 1: the web UI as static files ------------------------------------------------
FROM ${NODE_IMAGE} AS web
ARG NPM_CONFIG_REGISTRY
WORKDIR /build
# Manifests first: the install layer is reused until a package.json or the lock changes.
COPY package.json package-lock.json .npmrc tsconfig.json ./
COPY service/package.json service/
COPY web/package.json web/
COPY infra/package.json infra/
COPY packages/api-types/package.json packages/api-types/
COPY packages/api-client/package.json packages/api-client/
COPY packages/test-kit/package.json packages/test-kit/
RUN --mount=type=cache,target=/root/.npm \
    npm ci --workspace web --ignore-scripts --no-audit --no-fund
COPY packages/api-types/ packages/api-types/
COPY packages/api-client/ packages/api-client/
COPY web/ web/
RUN npm run build -w web

# --- Stage 2: the service's production dependencies only --------------------------------
FROM ${NODE_IMAGE} AS deps
ARG NPM_CONFIG_REGISTRY
WORKDIR /build
COPY package.json package-lock.json .npmrc ./
COPY service/package.json service/
COPY web/package.json web/
COPY infra/package.json infra/
COPY packages/api-types/package.json packages/api-types/
COPY packages/api-client/package.json packages/api-client/
COPY packages/test-kit/package.json packages/test-kit/
COPY patches/ patches/
# The install runs no package's scripts, ours included (the root's postinstall applies
# patches/): patch-package applies them here, and fails the build when one does not apply.
# `npm ci -w service --omit=dev` still lays down a few packages only other workspaces use
# (npm reports them as extraneous): remove those. Then drop what Node never loads at run
# time: type declarations, source maps, TypeScript sources (Node does not strip types under
# node_modules), docs, tests, examples, CI files, the .bin shims and the workspace links but
# @chatbot/api-types (the API's schemas, a link to packages/api-types; `find` does not follow
# links, and Node loads its TypeScript by the real path, outside node_modules).
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --workspace service --ignore-scripts --no-audit --no-fund \
 && npm exec --yes --package=patch-package@8.0.1 -- patch-package --error-on-fail \
 && npm query ':extraneous' | node -e ' \
      const fs = require("node:fs"); \
      for (const pkg of JSON.parse(fs.readFileSync(0, "utf8"))) { \
        if (pkg.location.startsWith("node_modules/")) fs.rmSync(pkg.path, { recursive: true, force: true }); \
      }' \
 && rm -rf node_modules/.bin \
 && find node_modules/@chatbot -mindepth 1 -maxdepth 1 ! -name api-types -exec rm -rf {} + \
 && find node_modules -type f \( -name '*.ts' -o -name '*.mts' -o -name '*.cts' -o -name '*.map' \
      -o -iname '*.md' -o -iname '*.markdown' -o -name '.travis.yml' -o -name '.eslintrc*' \
      -o -name '.npmignore' -o -name '.gitattributes' -o -name '.editorconfig' \) -delete \
 && find node_modules -type d -regextype posix-extended \
      -regex '(.*/)?node_modules/(@[^/]+/)?[^/@]+/(\.github|test|tests|__tests__|example|examples|bench|benchmark|benchmarks|docs)' \
      -prune -exec rm -rf {} + \
 && find node_modules -depth -type d -empty -delete \
 && mkdir -p /out/service \
 && mv node_modules /out/ \
 && if [ -d service/node_modules ]; then mv service/node_modules /out/service/; fi

# --- Runtime -------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# Owned by root and read-only for the service's user. Least often changed first.
COPY --from=deps /out/ /app/
# The one folder the service's user may write (the stacks mount the uploads volume here; a
# new named volume takes this folder's owner).
RUN mkdir /app/uploads && chown 1000:1000 /app/uploads
COPY packages/api-types/package.json /app/packages/api-types/
COPY packages/api-types/src/ /app/packages/api-types/src/
COPY service/package.json /app/service/
COPY service/drizzle/*.sql /app/service/drizzle/
COPY service/drizzle/meta/_journal.json /app/service/drizzle/meta/
COPY --from=web /build/web/dist/ /srv/web/
COPY service/src/ /app/service/src/

# The base image's `node` user.
USER 1000:1000
EXPOSE 8000
HEALTHCHECK --interval=5s --timeout=4s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.API_PORT || 8000}/health`, { signal: AbortSignal.timeout(3000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/app/service/src/main.ts"]
CMD ["serve"]

# Build metadata last: a new revision changes labels, never the layers above.
ARG VERSION=dev
ARG REVISION=unknown
ARG SOURCE=
ARG CREATED=
ENV APP_VERSION=${VERSION}
LABEL org.opencontainers.image.title="chatbot-service" \
      org.opencontainers.image.description="Multi-tenant chat API with the web UI's static build at /srv/web" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.created="${CREATED}"
