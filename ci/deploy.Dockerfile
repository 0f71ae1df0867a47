# syntax=docker/dockerfile:1
# The image of the pipeline's Pulumi jobs (preview, deploy, rollback) and of its Docker tests:
#   - Node.js 24 and npm (the Pulumi program and the deploy script run as TypeScript, with
#     Node's type stripping);
#   - the Pulumi CLI, at the version of the @pulumi/pulumi SDK in package-lock.json or later;
#   - the docker CLI (the migrations command, the promotion's registry lookup and the Docker
#     tests talk to a Docker engine through DOCKER_HOST, ssh:// or tcp://);
#   - ssh (ssh:// Docker hosts), git (the program reads the commit), ca-certificates, curl.
#
# The pipeline builds it (job deploy-image) and tags it pulumi-<version>-<hash of this file>:
# change a version below and the next pipeline builds and pushes the new image; the pipeline
# test names the tag .gitlab-ci.yml must then use.
ARG NODE_IMAGE=node:24-bookworm-slim
ARG DOCKER_CLI_IMAGE=docker:28.5.2-cli

FROM ${DOCKER_CLI_IMAGE} AS docker-cli

FROM ${NODE_IMAGE}
ARG PULUMI_VERSION=3.276.0
ARG TARGETARCH
RUN apt-get update \
  && apt-get install -y --no-install-recommends ca-certificates curl git openssh-client \
  && rm -rf /var/lib/apt/lists/*
COPY --from=docker-cli /usr/local/bin/docker /usr/local/bin/docker
COPY --from=docker-cli /usr/local/libexec/docker/cli-plugins/docker-buildx /usr/local/libexec/docker/cli-plugins/docker-buildx
# The release tarball, checked against the release's published checksums.
RUN set -eu; \
  case "${TARGETARCH:-amd64}" in amd64) arch=x64 ;; arm64) arch=arm64 ;; *) echo "unsupported: $TARGETARCH" >&2; exit 1 ;; esac; \
  tarball="pulumi-v${PULUMI_VERSION}-linux-${arch}.tar.gz"; \
  cd /tmp; \
  curl -fsSLO "https://get.pulumi.com/releases/sdk/${tarball}"; \
  curl -fsSL -o checksums.txt "https://github.com/pulumi/pulumi/releases/download/v${PULUMI_VERSION}/pulumi-${PULUMI_VERSION}-checksums.txt"; \
  grep " ${tarball}\$" checksums.txt | sha256sum -c -; \
  mkdir -p /opt/pulumi; \
  tar -xzf "${tarball}" -C /opt/pulumi --strip-components=1; \
  rm -f "${tarball}" checksums.txt; \
  /opt/pulumi/pulumi version
ENV PATH=/opt/pulumi:$PATH \
  PULUMI_SKIP_UPDATE_CHECK=true
# Sanity: the tools the jobs call.
RUN node --version && npm --version && docker --version && ssh -V && git --version
