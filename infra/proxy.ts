// nginx in front of everything: TLS, the web UI from the colors' volumes, the API on the
// active color. Its container never depends on the active color: a switch is a command that
// writes the active color's upstream file inside the running container, checks it with
// `nginx -t` and reloads gracefully (open requests and streams finish on the old workers).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as command from '@pulumi/command';
import type * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import * as tls from '@pulumi/tls';
import type { Color, StackConfig } from './config.ts';
import { dockerCommandEnv, stackContainer, type ComponentArgs } from './docker-defaults.ts';
import {
  GENERATION_PLACEHOLDER,
  NGINX_GENERATION_URL,
  NGINX_HEALTH_URL,
  NGINX_PATHS,
  renderBootstrapUpstream,
  renderNginxConfig,
  renderUpstream,
  type NginxSiteOptions,
} from './nginx-config.ts';

/** Where tlsMode host finds the Let’s Encrypt tree inside the container. */
export const LETSENCRYPT_MOUNT = '/etc/letsencrypt';

/** nginx's settings, whichever the orchestrator. */
export interface ProxySettings extends ComponentArgs {
  stack: string;
  image: string;
  proxy: StackConfig['proxy'];
  dockerHost: string | undefined;
  /** The largest document upload the app takes (KB_MAX_UPLOAD_BYTES): nginx admits it. */
  uploadMaxBytes: number;
}

export interface ProxyArgs extends ProxySettings {
  network: pulumi.Input<string>;
  /** Each color's web volume (mounted read-only at /srv/web/<color>). */
  webVolumes: Record<Color, pulumi.Input<string>>;
  activeColor: Color;
  /** host:port of the active color's app containers. */
  activeServers: string[];
  /** The active color's containers and web fill: the switch waits for them (and reruns when
   * they are replaced). */
  activeResources: (docker.Container | command.local.Command)[];
}

/** The script the switch runs inside nginx (read when the program runs), see the file itself. */
export const SWITCH_SCRIPT_FILE = fileURLToPath(new URL('./switch-upstream.sh', import.meta.url));

/**
 * The switch command's script: `docker exec` of the switch script in the nginx container, with
 * its comments and blank lines dropped and nginx-config.ts's values in place of @NAME@.
 */
export function renderSwitchScript(script: string): string {
  const values: Record<string, string> = {
    UPSTREAM_FILE: NGINX_PATHS.upstream,
    GENERATION_PLACEHOLDER,
    GENERATION_URL: NGINX_GENERATION_URL,
  };
  const lines = script
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.trimStart().startsWith('#'))
    .map((line) => `  ${line.replace(/@([A-Z_]+)@/g, (_, name: string) => values[name] ?? `@${name}@`)}`);
  const unknown = lines.find((line) => /@[A-Z_]+@|'/.test(line));
  if (unknown !== undefined)
    throw new Error(`${SWITCH_SCRIPT_FILE}: a single quote or an unknown @NAME@ in "${unknown}"`);
  return ['set -eu', `docker exec -i "$NGINX_CONTAINER" sh -c '`, ...lines, `'`].join('\n');
}

export const SWITCH_SCRIPT = renderSwitchScript(readFileSync(SWITCH_SCRIPT_FILE, 'utf8'));

/** nginx.conf's inputs from the stack (either orchestrator; swarm adds the app's tasks). */
export function nginxSiteOptions(args: ProxySettings, tlsPaths: ProxyTls['paths']): NginxSiteOptions {
  const p = args.proxy;
  return {
    stack: args.stack,
    domain: p.domain,
    httpsPort: p.httpsPort,
    hsts: p.hsts,
    tls: tlsPaths,
    acme: p.acmeWebroot !== undefined,
    uploadMaxBytes: args.uploadMaxBytes,
    edgeLimits: p.edgeLimits,
  };
}

/** nginx's ports (HTTP, HTTPS) and where the stack publishes each (0: a port Docker picks). */
export function nginxPorts(p: StackConfig['proxy']): { internal: number; published: number }[] {
  return [
    { internal: 80, published: p.httpPort },
    { internal: 443, published: p.httpsPort },
  ];
}

/** The platform's address for the published HTTPS port. */
export function httpsUrl(domain: string, httpsPort: number): string {
  return `https://${domain}${httpsPort === 443 ? '' : `:${httpsPort}`}`;
}

/** SIGQUIT: workers finish what they serve, then exit (either orchestrator). */
export const NGINX_STOP_SIGNAL = 'SIGQUIT';

/** nginx's healthcheck: its loopback-only health listener (either orchestrator). */
export const NGINX_HEALTHCHECK = {
  tests: ['CMD', 'curl', '-fsS', '-o', '/dev/null', NGINX_HEALTH_URL],
  interval: '5s',
  timeout: '3s',
  retries: 6,
  startPeriod: '5s',
};

/** Where nginx finds its certificate, and what the stack gives it (either orchestrator). */
export interface ProxyTls {
  /** The paths nginx reads inside its container. */
  paths: { certificate: string; key: string };
  /** self-signed and config: the contents (the key secret), for NGINX_PATHS.tlsCertificate and tlsKey. */
  files: { certificate: pulumi.Input<string>; key: pulumi.Input<string> } | undefined;
  /** Directories of the Docker host nginx mounts read-only (Let's Encrypt's tree, the ACME webroot). */
  hostDirs: { hostPath: string; containerPath: string }[];
}

/** The certificate of tlsMode (a self-signed one generated here), and the ACME webroot. */
export function proxyTls(
  name: string,
  { stack, proxy: p }: Pick<ProxySettings, 'stack' | 'proxy'>,
  parent: pulumi.Resource,
): ProxyTls {
  const tlsPaths = { certificate: NGINX_PATHS.tlsCertificate, key: NGINX_PATHS.tlsKey };
  const hostDirs: ProxyTls['hostDirs'] = [];
  let result: ProxyTls;
  if (p.tls.mode === 'self-signed') {
    const key = new tls.PrivateKey(`${name}-tls-key`, { algorithm: 'ECDSA', ecdsaCurve: 'P256' }, { parent });
    const cert = new tls.SelfSignedCert(
      `${name}-tls-cert`,
      {
        privateKeyPem: key.privateKeyPem,
        subject: { commonName: p.domain, organization: `chatbot ${stack}` },
        dnsNames: [...new Set([p.domain, 'localhost'])],
        ipAddresses: ['127.0.0.1'],
        validityPeriodHours: 24 * 365,
        earlyRenewalHours: 24 * 30,
        allowedUses: ['digital_signature', 'key_encipherment', 'server_auth'],
      },
      { parent },
    );
    result = {
      paths: tlsPaths,
      files: { certificate: cert.certPem, key: pulumi.secret(key.privateKeyPem) },
      hostDirs,
    };
  } else if (p.tls.mode === 'config') {
    result = {
      paths: tlsPaths,
      files: { certificate: p.tls.certificate ?? '', key: p.tls.privateKey ?? pulumi.secret('') },
      hostDirs,
    };
  } else {
    // Let's Encrypt layout: live/<domain>/ holds links into archive/, so mount the whole tree.
    hostDirs.push({ hostPath: p.tls.hostDir, containerPath: LETSENCRYPT_MOUNT });
    result = {
      paths: {
        certificate: `${LETSENCRYPT_MOUNT}/live/${p.domain}/fullchain.pem`,
        key: `${LETSENCRYPT_MOUNT}/live/${p.domain}/privkey.pem`,
      },
      files: undefined,
      hostDirs,
    };
  }
  if (p.acmeWebroot !== undefined)
    hostDirs.push({ hostPath: p.acmeWebroot, containerPath: NGINX_PATHS.acmeRoot });
  return result;
}

export class ReverseProxy extends pulumi.ComponentResource {
  public readonly container: docker.Container;
  public readonly switchCommand: command.local.Command;
  public readonly url: pulumi.Output<string>;

  constructor(name: string, args: ProxyArgs, opts?: pulumi.ComponentResourceOptions) {
    super('chatbot:infra:Proxy', name, {}, opts);
    const p = args.proxy;

    const tlsFiles = proxyTls(name, args, this);
    const uploads: docker.types.input.ContainerUpload[] =
      tlsFiles.files === undefined
        ? []
        : [
            { file: NGINX_PATHS.tlsCertificate, content: tlsFiles.files.certificate },
            { file: NGINX_PATHS.tlsKey, content: tlsFiles.files.key },
          ];
    const volumes: docker.types.input.ContainerVolume[] = [
      { volumeName: args.webVolumes.blue, containerPath: `${NGINX_PATHS.webRoot}/blue`, readOnly: true },
      { volumeName: args.webVolumes.green, containerPath: `${NGINX_PATHS.webRoot}/green`, readOnly: true },
      ...tlsFiles.hostDirs.map((d) => ({ ...d, readOnly: true })),
    ];

    const nginxConf = renderNginxConfig(nginxSiteOptions(args, tlsFiles.paths));
    uploads.unshift(
      { file: NGINX_PATHS.config, content: nginxConf },
      { file: NGINX_PATHS.upstream, content: renderBootstrapUpstream() },
    );

    this.container = stackContainer(
      `${name}-nginx`,
      {
        name: `${args.namePrefix}-nginx`,
        image: args.image,
        uploads,
        volumes,
        ports: nginxPorts(p).map(({ internal, published }): docker.types.input.ContainerPort => ({
          internal,
          ip: p.bindAddress,
          ...(published > 0 ? { external: published } : {}),
        })),
        networksAdvanced: [{ name: args.network }],
        healthcheck: NGINX_HEALTHCHECK,
        stopSignal: NGINX_STOP_SIGNAL,
      },
      {
        component: 'nginx',
        labels: args.labels,
        waitSeconds: 60,
        stopSeconds: args.stopSeconds,
        limits: args.limits,
      },
      this,
    );

    this.switchCommand = new command.local.Command(
      `${name}-switch`,
      {
        create: SWITCH_SCRIPT,
        stdin: renderUpstream({ color: args.activeColor, servers: args.activeServers }),
        environment: dockerCommandEnv(args.dockerHost, { NGINX_CONTAINER: this.container.name }),
        // A new nginx container, or new containers of the active color, need the switch again.
        triggers: [this.container.id, ...args.activeResources.map((r) => r.id)],
      },
      { parent: this, dependsOn: [this.container, ...args.activeResources] },
    );

    const httpsPort =
      p.httpsPort > 0
        ? pulumi.output(p.httpsPort)
        : this.container.ports.apply((ports) => ports?.find((x) => x.internal === 443)?.external ?? 443);
    this.url = httpsPort.apply((port) => httpsUrl(p.domain, port));
    this.registerOutputs({ url: this.url });
  }
}
