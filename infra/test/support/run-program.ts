// Runs the Pulumi program (the file Pulumi.yaml names as `main`) once, in this process, under
// Pulumi's mock runtime, and writes what it declared as JSON. Node loads the program the way
// Pulumi's Node.js language host does: chdir to the directory of `main`, then a dynamic
// import() of the .ts file (an ES module; Node strips the types), inside the root stack.
//
//   node run-program.ts <request.json>
//
// One program run per process: Pulumi's runtime state and the module cache are global.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as pulumi from '@pulumi/pulumi';
import { parse } from 'yaml';

export interface RunRequest {
  stack: string;
  /** Full keys (chatbot:image) to string values, as Pulumi passes them to a program. */
  config: Record<string, string>;
  secretKeys: string[];
  /** Milliseconds a resource type's mock takes to "create" (to expose ordering). */
  delays?: Record<string, number>;
  /** The repository root (where Pulumi.yaml is). */
  root: string;
  out: string;
}

export interface RecordedResource {
  type: string;
  name: string;
  custom: boolean;
  inputs: Record<string, unknown>;
  /** What the mock provider answered (secret outputs marked as in inputs). */
  outputs: Record<string, unknown>;
  /** Logical clock: when the mock was asked to create it, and when it answered. */
  started: number;
  finished: number;
  opts: {
    protect: boolean;
    retainOnDelete: boolean;
    deleteBeforeReplace: boolean;
    dependsOn: string[];
    parent: string | undefined;
  };
}

export interface RunResult {
  resources: RecordedResource[];
  outputs: Record<string, unknown>;
  error: string | undefined;
}

const SECRET_SIG = '4dabf18193072939515e22adb298388d';
const SECRET_VALUE = '1b47061264138c4ac30d75fd1eb44270';

/** A secret in what the mock receives becomes {__secret: value} in the JSON. */
function marked(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(marked);
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    if (obj[SECRET_SIG] === SECRET_VALUE) return { __secret: marked(obj['value']) };
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, marked(v)]));
  }
  return value;
}

const secret = (value: unknown) => ({ [SECRET_SIG]: SECRET_VALUE, value });
const hex = (...parts: string[]) => createHash('sha256').update(parts.join('/')).digest('hex');

/** What each provider would answer, with the outputs real providers mark secret as secrets. */
function mockState(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
  const h = hex(type, name);
  switch (type) {
    case 'random:index/randomPassword:RandomPassword':
      return { ...inputs, result: secret(`pw-${h.slice(0, 28)}`) };
    case 'random:index/randomBytes:RandomBytes': {
      const bytes = createHash('sha256').update(`bytes/${name}`).digest();
      return { ...inputs, base64: secret(bytes.toString('base64')), hex: secret(bytes.toString('hex')) };
    }
    case 'tls:index/privateKey:PrivateKey': {
      const pem = (label: string) =>
        `-----BEGIN ${label}-----\n${Buffer.from(`${label}/${h}`).toString('base64')}\n-----END ${label}-----\n`;
      return {
        ...inputs,
        privateKeyPem: secret(pem('EC PRIVATE KEY')),
        privateKeyPemPkcs8: secret(pem('PRIVATE KEY')),
        privateKeyOpenssh: secret(pem('OPENSSH PRIVATE KEY')),
        publicKeyPem: `-----BEGIN PUBLIC KEY-----\n${Buffer.from(`public/${h}`).toString('base64')}\n-----END PUBLIC KEY-----\n`,
      };
    }
    case 'tls:index/selfSignedCert:SelfSignedCert':
      return { ...inputs, certPem: `-----BEGIN CERTIFICATE-----\n${h}\n-----END CERTIFICATE-----\n` };
    case 'docker:index/image:Image': {
      const imageName = String(inputs['imageName']);
      const digest = `sha256:${hex(imageName, name)}`;
      const repo = imageName.replace(/:[^/:]*$/, '');
      return { ...inputs, repoDigest: inputs['skipPush'] === true ? digest : `${repo}@${digest}` };
    }
    case 'docker:index/remoteImage:RemoteImage':
      return { ...inputs, repoDigest: inputs['name'], imageId: `sha256:${h}` };
    case 'docker:index/container:Container': {
      const ports = (inputs['ports'] as { internal: number; external?: number }[] | undefined)?.map(
        (p, i) => ({
          ...p,
          external: p.external ?? 40000 + i,
        }),
      );
      return { ...inputs, ...(ports !== undefined ? { ports } : {}) };
    }
    case 'command:local:Command':
      return { ...inputs, stdout: '', stderr: '' };
    default:
      return { ...inputs };
  }
}

async function main(): Promise<void> {
  const requestPath = process.argv[2];
  if (requestPath === undefined) throw new Error('usage: run-program.ts <request.json>');
  const req = JSON.parse(readFileSync(requestPath, 'utf8')) as RunRequest;

  const project = parse(readFileSync(join(req.root, 'Pulumi.yaml'), 'utf8')) as {
    name: string;
    main: string;
  };
  const mainPath = join(req.root, project.main);

  const resources: RecordedResource[] = [];
  const optsByName = new Map<string, RecordedResource['opts']>();
  const names = new WeakMap<pulumi.Resource, string>();
  const errors: string[] = [];
  let clock = 0;

  process.on('unhandledRejection', (err) => {
    errors.push(err instanceof Error ? err.message : String(err));
  });

  pulumi.runtime.setAllConfig(req.config, req.secretKeys);
  await pulumi.runtime.setMocks(
    {
      async newResource(args) {
        const started = ++clock;
        const delay = req.delays?.[args.type] ?? 0;
        if (delay > 0) await new Promise((r) => setTimeout(r, delay));
        const finished = ++clock;
        const state = mockState(args.type, args.name, args.inputs);
        resources.push({
          type: args.type,
          name: args.name,
          custom: args.custom ?? true,
          inputs: marked(args.inputs) as Record<string, unknown>,
          outputs: marked(state) as Record<string, unknown>,
          started,
          finished,
          opts: optsByName.get(args.name) ?? {
            protect: false,
            retainOnDelete: false,
            deleteBeforeReplace: false,
            dependsOn: [],
            parent: undefined,
          },
        });
        return { id: `id-${args.name}`, state };
      },
      call(args) {
        throw new Error(`the program calls ${args.token}, which this test runtime does not mock`);
      },
    },
    project.name,
    req.stack,
    false,
    'organization',
  );

  // As Pulumi's language host does: the program's directory is the working directory.
  process.chdir(dirname(mainPath));

  let exported: Record<string, unknown> = {};
  try {
    await pulumi.runtime.runInPulumiStack(async () => {
      // Resource options (protect, dependsOn, ...) never reach a mock: a stack transformation
      // records them as each resource is constructed.
      pulumi.runtime.registerStackTransformation((t) => {
        names.set(t.resource, t.name);
        const deps = t.opts.dependsOn;
        const list = (Array.isArray(deps) ? deps : deps === undefined ? [] : [deps]) as pulumi.Resource[];
        optsByName.set(t.name, {
          protect: t.opts.protect === true,
          retainOnDelete: t.opts.retainOnDelete === true,
          deleteBeforeReplace: (t.opts as pulumi.CustomResourceOptions).deleteBeforeReplace === true,
          dependsOn: list.map((r) => names.get(r) ?? '?'),
          parent: t.opts.parent !== undefined ? names.get(t.opts.parent) : undefined,
        });
        return undefined;
      });
      exported = (await import(pathToFileURL(mainPath).href)) as Record<string, unknown>;
      return exported;
    });
    await pulumi.runtime.disconnect();
  } catch (err) {
    errors.unshift(err instanceof Error ? err.message : String(err));
  }

  const outputs: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(exported)) {
    if (pulumi.Output.isInstance(value)) {
      const plain = await new Promise((resolve) => value.apply(resolve));
      outputs[key] = (await pulumi.isSecret(value)) ? { __secret: plain } : plain;
    } else {
      outputs[key] = value;
    }
  }

  const result: RunResult = { resources, outputs, error: errors.length > 0 ? errors.join('\n') : undefined };
  writeFileSync(req.out, JSON.stringify(result, null, 1));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  },
);
