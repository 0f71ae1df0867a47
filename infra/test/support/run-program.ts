// Runs the Pulumi program once under Pulumi's mock runtime (program.ts) and writes what it
// declared as JSON: each resource's inputs, the mock provider's outputs and its options.
//
//   node run-program.ts <request.json>
import { createHash } from 'node:crypto';
import * as pulumi from '@pulumi/pulumi';
import { errorMessage, programScript, resolveExports, runProgram, type ProgramRequest } from './program.ts';
import { marked, SECRET_SIG, SECRET_VALUE } from './secrets.ts';

export interface RunRequest extends ProgramRequest {
  /** Milliseconds a resource type's mock takes to "create" (to expose ordering). */
  delays?: Record<string, number>;
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

programScript<RunRequest>('run-program.ts', async (req) => {
  const resources: RecordedResource[] = [];
  const optsByName = new Map<string, RecordedResource['opts']>();
  const names = new WeakMap<pulumi.Resource, string>();
  const errors: string[] = [];
  let clock = 0;

  process.on('unhandledRejection', (err) => {
    errors.push(errorMessage(err));
  });

  const { exported, error } = await runProgram(
    req,
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
    () => {
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
    },
  );
  if (error !== undefined) errors.unshift(error);

  const outputs = await resolveExports(exported);
  const result: RunResult = { resources, outputs, error: errors.length > 0 ? errors.join('\n') : undefined };
  return result;
});
