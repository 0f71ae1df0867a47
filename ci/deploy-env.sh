#!/bin/sh
# Prepares a deploy or preview job of one stack (run from the repository root, in the deploy
# image, after `npm ci`):
#   - the Pulumi state backend must be configured: PULUMI_BACKEND_URL (a self-managed backend,
#     with PULUMI_CONFIG_PASSPHRASE or a KMS secrets provider) or PULUMI_ACCESS_TOKEN;
#   - the Docker hosts' ssh key (DEPLOY_SSH_KEY, a File variable) and host keys
#     (DEPLOY_SSH_KNOWN_HOSTS, a File variable or the known_hosts lines themselves);
#   - docker login to GitLab's registry, and the stack's registry settings pointed at it with
#     the job's credentials (CI_REGISTRY, CI_REGISTRY_USER, CI_REGISTRY_PASSWORD), the image
#     repository at APP_IMAGE_REPOSITORY.
# Secrets go through files and stdin only: never argv, never the log.
#
#   sh ci/deploy-env.sh <stack>
set -eu
stack="${1:?usage: deploy-env.sh <stack>}"
say() { printf 'deploy-env: %s\n' "$*"; }
fail() {
  printf 'deploy-env: %s\n' "$*" >&2
  exit 1
}

if [ -z "${PULUMI_BACKEND_URL:-}" ] && [ -z "${PULUMI_ACCESS_TOKEN:-}" ]; then
  fail "no Pulumi state: set the CI/CD variable PULUMI_BACKEND_URL (e.g. s3://bucket/chatbot) with PULUMI_CONFIG_PASSPHRASE, or PULUMI_ACCESS_TOKEN"
fi
if [ -n "${PULUMI_BACKEND_URL:-}" ]; then
  say "state: self-managed backend (${PULUMI_BACKEND_URL%%://*}://)"
else
  say "state: Pulumi Cloud"
fi

ssh_dir="$HOME/.ssh"
mkdir -p "$ssh_dir"
chmod 700 "$ssh_dir"
if [ -n "${DEPLOY_SSH_KEY:-}" ]; then
  [ -f "$DEPLOY_SSH_KEY" ] || fail "DEPLOY_SSH_KEY must be a variable of type File (the private key)"
  # GitLab writes File variables world-readable; ssh insists on 0600. A key file without its
  # final newline is "invalid format" to ssh.
  umask 077
  { cat "$DEPLOY_SSH_KEY"; [ -z "$(tail -c 1 "$DEPLOY_SSH_KEY")" ] || echo; } > "$ssh_dir/id_deploy"
  cat > "$ssh_dir/config" <<EOF
Host *
  IdentityFile $ssh_dir/id_deploy
  IdentitiesOnly yes
  StrictHostKeyChecking yes
  BatchMode yes
  ServerAliveInterval 30
  ControlMaster auto
  ControlPath $ssh_dir/cm-%C
  ControlPersist 120
EOF
  say "ssh key installed"
fi
if [ -n "${DEPLOY_SSH_KNOWN_HOSTS:-}" ]; then
  if [ -f "$DEPLOY_SSH_KNOWN_HOSTS" ]; then
    cat "$DEPLOY_SSH_KNOWN_HOSTS" >> "$ssh_dir/known_hosts"
  else
    printf '%s\n' "$DEPLOY_SSH_KNOWN_HOSTS" >> "$ssh_dir/known_hosts"
  fi
  say "known hosts: $(grep -c . "$ssh_dir/known_hosts") lines"
fi

pulumi stack select --create "$stack" > /dev/null
if [ -n "${CI_REGISTRY:-}" ]; then
  printf '%s' "${CI_REGISTRY_PASSWORD:?}" |
    docker login --username "${CI_REGISTRY_USER:?}" --password-stdin "$CI_REGISTRY" > /dev/null
  pulumi config set --stack "$stack" imageRepository "${APP_IMAGE_REPOSITORY:-$CI_REGISTRY_IMAGE/app}"
  pulumi config set --stack "$stack" registryServer "$CI_REGISTRY"
  pulumi config set --stack "$stack" registryUsername "$CI_REGISTRY_USER"
  printf '%s' "$CI_REGISTRY_PASSWORD" | pulumi config set --stack "$stack" --secret registryPassword
  say "registry: $CI_REGISTRY as $CI_REGISTRY_USER, images in ${APP_IMAGE_REPOSITORY:-$CI_REGISTRY_IMAGE/app}"
fi
