// The chat service in two color groups (blue and green) of `replicas` containers each, with
// the environment app-env.ts maps onto the service's variables. Both colors get the same
// environment; each runs its own image, so a deploy replaces only the color that gets the new
// release and a rollback replaces nothing. Each color also owns a volume holding its image's
// web build (/srv/web), which nginx serves read-only.
import * as command from '@pulumi/command';
import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';
import * as tls from '@pulumi/tls';
import { appVariables, environmentList, type AppVariable, type ProgramName } from './app-env.ts';
import { COLORS, type AppSettings, type Color, type StackConfig } from './config.ts';
import {
  componentLabels,
  dataVolume,
  dockerCommandEnv,
  labelList,
  stackContainer,
  type ComponentArgs,
} from './docker-defaults.ts';

export const APP_PORT = 8000;
/** Where the uploads volume is mounted in app containers (UPLOADS_DIR). */
export const UPLOADS_PATH = '/app/uploads';
/** Where the web volume of a color is filled from. */
export const IMAGE_WEB_ROOT = '/srv/web';

/** The app's settings, whichever the orchestrator. */
export interface AppArgs extends ComponentArgs {
  /** Containers per color (host), the service's tasks (swarm). */
  replicas: number;
  settings: AppSettings;
  /** Configured JWT keys; undefined generates a pair. */
  jwtKeys: StackConfig['jwtKeys'];
  /** Secret. */
  databaseUrl: pulumi.Input<string>;
  /** Secret. */
  redisUrl: pulumi.Input<string>;
  /** What must be done before the app starts or is updated, its web volumes filled (migrations). */
  after: pulumi.Input<pulumi.Resource>[];
}

export interface AppServiceArgs extends AppArgs {
  network: pulumi.Input<string>;
  /** The image each color runs. */
  images: Record<Color, pulumi.Input<string>>;
  data: { retain: boolean; protect: boolean };
  dockerHost: string | undefined;
}

export interface ColorGroup {
  image: pulumi.Output<string>;
  containers: docker.Container[];
  /** host:port of each container on the stack network. */
  servers: string[];
  webVolume: docker.Volume;
  webFill: command.local.Command;
}

/** A PEM key in one line: API.md reads a literal \n in an environment value as a newline. */
export function pemForEnv(pem: string): string {
  return pem.trim().replace(/\r?\n/g, '\\n');
}

/** url-safe base64 (what FERNET_KEY must be) from standard base64. */
export function urlSafeBase64(b64: string): string {
  return b64.replace(/\+/g, '-').replace(/\//g, '_');
}

/** The app's healthcheck (the image has no curl: Node's fetch asks /health); host and swarm alike. */
export const APP_HEALTHCHECK = {
  tests: [
    'CMD',
    'node',
    '-e',
    `fetch('http://127.0.0.1:${APP_PORT}/health',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`,
  ],
  interval: '5s',
  timeout: '5s',
  retries: 6,
  startPeriod: '30s',
};

/** SIGTERM drains in-flight requests and streams within SHUTDOWN_GRACE_MS (either orchestrator). */
export const APP_STOP_SIGNAL = 'SIGTERM';

/** The keys the app signs tokens and encrypts provider keys with. */
export interface AppKeys {
  jwtPublicKey: pulumi.Output<string>;
  /** Secret. */
  jwtPrivateKey: pulumi.Output<string>;
  /** Secret. */
  fernetKey: pulumi.Output<string>;
}

/**
 * The configured JWT key pair or one generated (ECDSA P-256), and a generated Fernet key. Both
 * modes' app components create them under the same names and component type, so the keys stay
 * when a stack moves between orchestrators.
 */
export function appKeys(name: string, configured: StackConfig['jwtKeys'], parent: pulumi.Resource): AppKeys {
  let jwtPrivateKey: pulumi.Output<string>;
  let jwtPublicKey: pulumi.Output<string>;
  if (configured !== undefined) {
    jwtPrivateKey = configured.privateKey;
    jwtPublicKey = pulumi.output(configured.publicKey);
  } else {
    const key = new tls.PrivateKey(`${name}-jwt-key`, { algorithm: 'ECDSA', ecdsaCurve: 'P256' }, { parent });
    jwtPrivateKey = pulumi.secret(key.privateKeyPemPkcs8);
    jwtPublicKey = key.publicKeyPem;
  }
  const fernet = new random.RandomBytes(`${name}-fernet-key`, { length: 32 }, { parent });
  return { jwtPublicKey, jwtPrivateKey, fernetKey: fernet.base64 };
}

/** What the program gives the app (the rest comes from stack keys, see app-env.ts). */
export function programVariables(
  keys: AppKeys,
  urls: { databaseUrl: pulumi.Input<string>; redisUrl: pulumi.Input<string> },
): Record<ProgramName, pulumi.Input<string>> {
  return {
    API_HOST: '0.0.0.0',
    API_PORT: String(APP_PORT),
    DATABASE_URL: urls.databaseUrl,
    REDIS_URL: urls.redisUrl,
    JWT_PUBLIC_KEY: keys.jwtPublicKey.apply(pemForEnv),
    JWT_PRIVATE_KEY: pulumi.secret(keys.jwtPrivateKey.apply(pemForEnv)),
    FERNET_KEY: pulumi.secret(keys.fernetKey.apply(urlSafeBase64)),
    UPLOADS_DIR: UPLOADS_PATH,
  };
}

/**
 * The app's environment, whichever the orchestrator: its keys (appKeys) and every variable
 * from the stack's keys and the program (app-env.ts), in the schema's order.
 */
export function appSetup(
  name: string,
  args: AppArgs,
  parent: pulumi.Resource,
): { jwtPublicKey: pulumi.Output<string>; variables: AppVariable[] } {
  const keys = appKeys(name, args.jwtKeys, parent);
  return {
    jwtPublicKey: keys.jwtPublicKey,
    variables: appVariables(args.settings, programVariables(keys, args)),
  };
}

/** Copies the image's web build into the color's volume (as root: the volume is root-owned). */
export const WEB_FILL_SCRIPT = [
  'set -eu',
  'docker run --rm --network none --user 0:0 --entrypoint sh --volume "$VOLUME:/target" "$IMAGE" \\',
  `  -c 'find /target -mindepth 1 -delete && cp -a ${IMAGE_WEB_ROOT}/. /target/ && test -f /target/index.html'`,
].join('\n');

export class AppService extends pulumi.ComponentResource {
  public readonly colors: Record<Color, ColorGroup>;
  public readonly jwtPublicKey: pulumi.Output<string>;
  public readonly uploadsVolume: docker.Volume;

  constructor(name: string, args: AppServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super('chatbot:infra:AppService', name, {}, opts);

    const app = appSetup(name, args, this);
    this.jwtPublicKey = app.jwtPublicKey;
    const envs = environmentList(app.variables);

    this.uploadsVolume = dataVolume(
      `${name}-uploads`,
      `${args.namePrefix}-uploads`,
      args.labels,
      args.data,
      this,
    );

    const colors = {} as Record<Color, ColorGroup>;
    for (const color of COLORS) {
      const image = pulumi.output(args.images[color]);
      const colorLabel = { 'com.chatbot.color': color };

      const webVolume = new docker.Volume(
        `${name}-${color}-web`,
        {
          name: `${args.namePrefix}-web-${color}`,
          labels: labelList(componentLabels(args.labels, 'app', colorLabel)),
        },
        { parent: this },
      );
      const webFill = new command.local.Command(
        `${name}-${color}-web-fill`,
        {
          create: WEB_FILL_SCRIPT,
          environment: dockerCommandEnv(args.dockerHost, { IMAGE: image, VOLUME: webVolume.name }),
          triggers: [image, webVolume.name],
        },
        { parent: this, dependsOn: args.after },
      );

      const containers: docker.Container[] = [];
      const servers: string[] = [];
      for (let i = 1; i <= args.replicas; i++) {
        const containerName = `${args.namePrefix}-app-${color}-${i}`;
        servers.push(`${containerName}:${APP_PORT}`);
        containers.push(
          stackContainer(
            `${name}-${color}-${i}`,
            {
              name: containerName,
              image,
              envs,
              networksAdvanced: [{ name: args.network, aliases: [`app-${color}`] }],
              volumes: [{ volumeName: this.uploadsVolume.name, containerPath: UPLOADS_PATH }],
              healthcheck: APP_HEALTHCHECK,
              stopSignal: APP_STOP_SIGNAL,
            },
            {
              component: 'app',
              labels: args.labels,
              moreLabels: colorLabel,
              waitSeconds: 180,
              stopSeconds: args.stopSeconds,
              limits: args.limits,
              dependsOn: args.after,
            },
            this,
          ),
        );
      }
      colors[color] = { image, containers, servers, webVolume, webFill };
    }
    this.colors = colors;
    this.registerOutputs({ jwtPublicKey: this.jwtPublicKey });
  }
}
