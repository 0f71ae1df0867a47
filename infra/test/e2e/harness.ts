// The test side of the e2e harness: a dev stack of its own (a unique name prefix and run
// label), applied again and again like `pulumi up` (each apply a child process running
// apply-program.ts on the state the previous ones left), what `pulumi stack export` would
// show for the deploy script's planner, and the removal of everything the run created.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExportedResource } from '../../scripts/deploy-plan.ts';
import { encrypted } from '../support/secrets.ts';
import { ROOT, stackConfig } from '../support/stack.ts';
import type { ApplyRequest, ApplyResult, HarnessState, Operation } from './apply-program.ts';
import { removeLabelled } from './docker-engine.ts';
import { RUN_LABEL } from './providers.ts';

export type { ApplyResult, Operation };

const APPLY = fileURLToPath(new URL('./apply-program.ts', import.meta.url));

export class E2eStack {
  readonly runId = randomBytes(4).toString('hex');
  /** Docker names of everything the stack declares start with this. */
  readonly namePrefix = `chatbot-e2e-${this.runId}`;
  readonly labelFilter = `${RUN_LABEL}=${this.runId}`;
  /** Config keys (without "chatbot:") on top of Pulumi.dev.yaml, as `pulumi config set` left them. */
  readonly config: Record<string, string>;
  readonly secrets: Record<string, string>;
  private readonly dir = mkdtempSync(join(tmpdir(), 'chatbot-e2e-'));
  private readonly statePath = join(this.dir, 'state.json');
  private applies = 0;

  constructor(config: Record<string, string>, secrets: Record<string, string>) {
    this.config = { namePrefix: this.namePrefix, ...config };
    this.secrets = secrets;
    writeFileSync(this.statePath, JSON.stringify({ resources: {} } satisfies HarnessState), { mode: 0o600 });
  }

  /** `pulumi config set` of the given keys, then `pulumi up`. */
  async apply(changes: Record<string, string> = {}): Promise<ApplyResult> {
    Object.assign(this.config, changes);
    const n = ++this.applies;
    const { config, secretKeys } = stackConfig('dev', { config: { ...this.config }, secrets: this.secrets });
    const request: ApplyRequest = {
      stack: 'dev',
      config,
      secretKeys,
      root: ROOT,
      runId: this.runId,
      statePath: this.statePath,
      out: join(this.dir, `result-${n}.json`),
    };
    const requestPath = join(this.dir, `request-${n}.json`);
    writeFileSync(requestPath, JSON.stringify(request), { mode: 0o600 });
    const started = Date.now();
    let log = '';
    try {
      await new Promise<void>((resolve, reject) => {
        const child = execFile(
          process.execPath,
          [APPLY, requestPath],
          { cwd: ROOT, timeout: 480_000, maxBuffer: 64 * 1024 * 1024 },
          (err) => (err !== null ? reject(err) : resolve()),
        );
        child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
          log += chunk;
          process.stdout.write(chunk);
        });
      });
    } catch (err) {
      let written = false;
      try {
        readFileSync(request.out);
        written = true;
      } catch {
        // no result
      }
      if (!written)
        throw new Error(`apply ${n} crashed: ${(err as Error).message}\n${log.slice(-4000)}`, { cause: err });
    } finally {
      rmSync(requestPath, { force: true });
    }
    const result = JSON.parse(readFileSync(request.out, 'utf8')) as ApplyResult;
    const counts = (op: Operation) => result.operations.filter((o) => o.op === op).length;
    console.log(
      `[e2e] apply ${n}: ${Date.now() - started} ms; created ${counts('create')}, replaced ${counts('replace')}, ` +
        `kept ${counts('same')}, deleted ${counts('delete')}${result.error !== undefined ? `; FAILED: ${result.error.split('\n')[0]}` : ''}`,
    );
    return result;
  }

  private state(): HarnessState {
    return JSON.parse(readFileSync(this.statePath, 'utf8')) as HarnessState;
  }

  /** Outputs of a declared resource (secrets marked {__secret}). */
  outputsOf(name: string): Record<string, unknown> {
    const r = Object.values(this.state().resources).find((x) => x.name === name);
    if (r === undefined) throw new Error(`no resource ${name} in the e2e state`);
    return r.outputs;
  }

  idOf(name: string): string | undefined {
    return Object.values(this.state().resources).find((x) => x.name === name)?.id;
  }

  /** What `pulumi stack export` shows (secrets as ciphertext, as Pulumi stores them). */
  exported(): { deployment: { resources: ExportedResource[] } } {
    return {
      deployment: {
        resources: Object.values(this.state().resources).map((r) => ({
          urn: `urn:pulumi:dev::chatbot::${r.type}::${r.name}`,
          type: r.type,
          inputs: encrypted(r.inputs) as Record<string, unknown>,
        })),
      },
    };
  }

  /** Removes every container, network, volume and image of this run (by its label and prefix). */
  async destroy(): Promise<string[]> {
    try {
      return await removeLabelled(RUN_LABEL, this.runId, this.namePrefix);
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}
