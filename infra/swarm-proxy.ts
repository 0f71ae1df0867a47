// orchestrator swarm: nginx as a service of one task on the node labelled swarmEdgeLabel, its
// ports published in host mode on that node (no routing mesh: it needs IPVS, and host mode
// keeps the client's address for the edge limits). Its configuration names the app service's
// tasks, which it resolves through Docker's DNS as they come and go (nginx-config.ts), so a
// rolling update of the app never touches nginx. nginx.conf and the certificate are Swarm
// configs, the certificate's key a Swarm secret, each named after its content's hash.
//
// The web UI comes from a volume on nginx's node, filled from the release image once the app
// service has converged on it: a one-off Swarm job placed on that node copies the image's web
// build over the volume's content, so the content-hashed assets of earlier releases stay for
// pages loaded before the update (files no release has brought for 7 days go).
import * as command from '@pulumi/command';
import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import { IMAGE_WEB_ROOT } from './app-service.ts';
import type { StackConfig } from './config.ts';
import { componentLabels, dockerCommandEnv } from './docker-defaults.ts';
import { NGINX_PATHS, renderNginxConfig } from './nginx-config.ts';
import {
  httpsUrl,
  NGINX_HEALTHCHECK,
  NGINX_STOP_SIGNAL,
  nginxPorts,
  nginxSiteOptions,
  proxyTls,
  type ProxySettings,
} from './proxy.ts';
import {
  configFile,
  onLabelledNode,
  secretFile,
  singleTaskServiceArgs,
  versionedConfig,
  versionedSecret,
  volumeMount,
} from './swarm.ts';

export interface SwarmProxyArgs extends ProxySettings {
  networkId: pulumi.Input<string>;
  /** The node label nginx is pinned to (swarmEdgeLabel). */
  nodeLabel: string;
  /** host:port of the app's tasks in Swarm's DNS: tasks.<service>:<port>. */
  appTasks: string;
  /** The release (its web build fills the web volume). */
  release: pulumi.Input<string>;
  /** Credentials the job's node pulls the release with. */
  registry: StackConfig['release']['registry'];
  /** The app service: the web volume is filled once it has converged on the release. */
  app: pulumi.Resource;
}

/**
 * The web fill: a Swarm job on the edge node copies the image's web build into the volume and
 * the command waits for it (a failed job fails the command). Registry credentials, when the
 * stack has some, go to a throwaway docker login (stdin) that --with-registry-auth hands on.
 */
export const SWARM_WEB_FILL_SCRIPT = [
  'set -eu',
  'if [ -n "${REGISTRY_USERNAME:-}" ]; then',
  '  DOCKER_CONFIG="$(mktemp -d)"',
  '  export DOCKER_CONFIG',
  '  trap \'rm -rf "$DOCKER_CONFIG"\' EXIT',
  '  printf %s "$REGISTRY_PASSWORD" | docker login --username "$REGISTRY_USERNAME" --password-stdin "$REGISTRY_SERVER" >/dev/null',
  'fi',
  'docker service rm "$JOB" >/dev/null 2>&1 || true',
  'docker service create --detach --quiet --with-registry-auth --name "$JOB" --mode replicated-job \\',
  '  --restart-condition none --constraint "$CONSTRAINT" --user 0:0 --entrypoint sh \\',
  '  --mount "type=volume,source=$VOLUME,target=/target" "$IMAGE" \\',
  `  -c 'cp -R ${IMAGE_WEB_ROOT}/. /target/ && find /target -type f -mtime +7 -delete && test -f /target/index.html' >/dev/null`,
  'i=0',
  'while :; do',
  `  state="$(docker service ps --no-trunc --format '{{.CurrentState}} {{.Error}}' "$JOB" | head -n 1)"`,
  '  case "$state" in',
  '    Complete*) break ;;',
  '    Failed* | Rejected*)',
  '      docker service rm "$JOB" >/dev/null',
  '      echo "filling the web volume $VOLUME failed: $state" >&2',
  '      exit 1',
  '      ;;',
  '  esac',
  '  i=$((i + 1))',
  '  if [ "$i" -gt 600 ]; then',
  '    docker service rm "$JOB" >/dev/null',
  '    echo "filling the web volume $VOLUME did not finish within 5 minutes: $state" >&2',
  '    exit 1',
  '  fi',
  '  sleep 0.5',
  'done',
  'docker service rm "$JOB" >/dev/null',
].join('\n');

export class SwarmProxy extends pulumi.ComponentResource {
  public readonly service: docker.Service;
  public readonly webFill: command.local.Command;
  public readonly url: pulumi.Output<string>;

  constructor(name: string, args: SwarmProxyArgs, opts?: pulumi.ComponentResourceOptions) {
    super('chatbot:infra:SwarmProxy', name, {}, opts);
    const labels = componentLabels(args.labels, 'nginx');
    const versioned = (what: string, value: pulumi.Input<string>) => ({
      namePrefix: args.namePrefix,
      what,
      value,
      labels,
    });

    const tls = proxyTls(name, args, this);
    const nginxConf = renderNginxConfig({ ...nginxSiteOptions(args, tls.paths), swarmApp: args.appTasks });
    const configs = [
      configFile(
        versionedConfig(`${name}-nginx-conf`, versioned('nginx-conf', nginxConf), this),
        NGINX_PATHS.config,
      ),
    ];
    const secrets: docker.types.input.ServiceTaskSpecContainerSpecSecret[] = [];
    if (tls.files !== undefined) {
      const cert = versionedConfig(
        `${name}-tls-cert-config`,
        versioned('tls-cert', tls.files.certificate),
        this,
      );
      configs.push(configFile(cert, NGINX_PATHS.tlsCertificate));
      const key = versionedSecret(`${name}-tls-key-secret`, versioned('tls-key', tls.files.key), this);
      secrets.push(secretFile(key, NGINX_PATHS.tlsKey, { uid: '0', gid: '0' }));
    }

    const webVolume = `${args.namePrefix}-web`;
    const constraint = onLabelledNode(args.nodeLabel).constraints as string[];
    const registry = args.registry;
    this.webFill = new command.local.Command(
      `${name}-web-fill`,
      {
        create: SWARM_WEB_FILL_SCRIPT,
        environment: pulumi.secret(
          pulumi.output(
            dockerCommandEnv(args.dockerHost, {
              IMAGE: args.release,
              VOLUME: webVolume,
              JOB: `${args.namePrefix}-web-fill`,
              CONSTRAINT: constraint[0] ?? '',
              ...(registry !== undefined
                ? {
                    REGISTRY_SERVER: registry.server,
                    REGISTRY_USERNAME: registry.username,
                    REGISTRY_PASSWORD: registry.password,
                  }
                : {}),
            }),
          ),
        ),
        triggers: [args.release, webVolume, args.nodeLabel],
      },
      { parent: this, dependsOn: [args.app] },
    );

    this.service = new docker.Service(
      `${name}-nginx`,
      singleTaskServiceArgs({
        name: `${args.namePrefix}-nginx`,
        labels,
        containerSpec: {
          image: args.image,
          configs,
          ...(secrets.length > 0 ? { secrets } : {}),
          mounts: [
            volumeMount(webVolume, NGINX_PATHS.webRoot, labels, { readOnly: true }),
            ...tls.hostDirs.map((d) => ({
              type: 'bind',
              source: d.hostPath,
              target: d.containerPath,
              readOnly: true,
            })),
          ],
          healthcheck: NGINX_HEALTHCHECK,
          stopSignal: NGINX_STOP_SIGNAL,
        },
        stopSeconds: args.stopSeconds,
        network: { id: args.networkId },
        nodeLabel: args.nodeLabel,
        limits: args.limits,
        ports: nginxPorts(args.proxy).map(({ internal, published }) => ({
          targetPort: internal,
          publishedPort: published,
          publishMode: 'host',
          protocol: 'tcp',
        })),
      }),
      { parent: this, dependsOn: [this.webFill] },
    );

    this.url = pulumi.output(httpsUrl(args.proxy.domain, args.proxy.httpsPort));
    this.registerOutputs({ url: this.url });
  }
}
