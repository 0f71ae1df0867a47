// One `pulumi up` of the real program (the file Pulumi.yaml names) on the local Docker engine:
// Pulumi's mock runtime runs the program and resolves its resources in dependency order; the
// mock's newResource carries each one out for real (providers.ts) and compares it with the
// state of the previous apply, as the engine does:
//
// - same inputs: kept (same id and outputs, nothing runs);
// - changed inputs: replaced: docker.Container delete-before-replace (the Docker provider's
//   behaviour and the program's option), a Command's create runs again, keys and passwords
//   are regenerated;
// - declared before but not now: deleted once the program has succeeded (a failed update
//   deletes nothing).
//
// The program runs as in run-program.ts (../support/program.ts).
//
//   node apply-program.ts <request.json>
import { readFileSync, writeFileSync } from 'node:fs';
import {
  errorMessage,
  programScript,
  resolveExports,
  runProgram,
  type ProgramRequest,
} from '../support/program.ts';
import { marked, reveal, wire } from '../support/secrets.ts';
import { providerFor, PROVIDERS, type ProviderContext } from './providers.ts';

export interface ApplyRequest extends ProgramRequest {
  runId: string;
  /** JSON state of the previous applies (read, then rewritten after every change). */
  statePath: string;
}

/** A resource as the harness's state keeps it (secrets marked {__secret: value}). */
export interface StateResource {
  type: string;
  name: string;
  id: string;
  inputs: Record<string, unknown>;
  outputs: Record<string, unknown>;
}

export interface HarnessState {
  resources: Record<string, StateResource>;
}

export type Operation = 'create' | 'replace' | 'same' | 'delete';

export interface ApplyResult {
  operations: { op: Operation; type: string; name: string; ms: number }[];
  outputs: Record<string, unknown>;
  error: string | undefined;
}

const hasSecret = (value: unknown): boolean => JSON.stringify(value ?? null).includes('"__secret"');

programScript<ApplyRequest>('apply-program.ts', async (req) => {
  const state = JSON.parse(readFileSync(req.statePath, 'utf8')) as HarnessState;
  const save = () => writeFileSync(req.statePath, JSON.stringify(state), { mode: 0o600 });
  const seen = new Set<string>();
  const operations: ApplyResult['operations'] = [];
  const errors: string[] = [];
  const inFlight = new Set<Promise<unknown>>();
  const ctx: ProviderContext = {
    runId: req.runId,
    log: (line) => process.stderr.write(`[e2e apply] ${line}\n`),
  };

  process.on('unhandledRejection', (err) => {
    const message = errorMessage(err);
    if (!errors.includes(message)) errors.push(message);
  });

  async function carryOut(type: string, name: string, rawInputs: Record<string, unknown>) {
    const provider = providerFor(type, name);
    const key = `${type}::${name}`;
    if (seen.has(key)) throw new Error(`${key} is declared twice`);
    seen.add(key);
    const inputs = marked(rawInputs) as Record<string, unknown>;
    const plain = reveal(inputs) as Record<string, unknown>;
    const previous = state.resources[key];
    const started = Date.now();
    const record = (op: Operation) => operations.push({ op, type, name, ms: Date.now() - started });

    if (previous !== undefined && JSON.stringify(reveal(previous.inputs)) === JSON.stringify(plain)) {
      record('same');
      return { id: previous.id, state: wire(previous.outputs) as Record<string, unknown> };
    }
    if (previous !== undefined && provider.replace === 'delete-before-replace') {
      ctx.log(`replacing ${type} ${name}: deleting the old one first`);
      await provider.delete?.(previous.id, reveal(previous.outputs) as Record<string, unknown>);
      delete state.resources[key];
      save();
    }
    const created = await provider.create(name, plain, ctx);
    // Outputs stay secret where the inputs were, and where the real provider marks them.
    const outputs: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(created.outputs)) {
      const secret = hasSecret(inputs[k]) || (created.secretOutputs ?? []).includes(k);
      outputs[k] = secret ? { __secret: v } : v;
    }
    if (previous !== undefined && provider.replace === 'create-before-replace') {
      await provider.delete?.(previous.id, reveal(previous.outputs) as Record<string, unknown>);
    }
    state.resources[key] = { type, name, id: created.id, inputs, outputs };
    save();
    record(previous === undefined ? 'create' : 'replace');
    return { id: created.id, state: wire(outputs) as Record<string, unknown> };
  }

  const { exported, error } = await runProgram(req, {
    async newResource(args) {
      if (args.custom === false) return { id: undefined, state: {} };
      const work = carryOut(args.type, args.name, args.inputs);
      inFlight.add(work);
      try {
        return await work;
      } catch (err) {
        const message = errorMessage(err);
        errors.push(message);
        ctx.log(`FAILED ${args.type} ${args.name}: ${message.split('\n')[0]}`);
        throw err;
      } finally {
        inFlight.delete(work);
      }
    },
    call(args) {
      throw new Error(`the program calls ${args.token}, which the e2e harness does not carry out`);
    },
  });
  if (error !== undefined && !errors.includes(error)) errors.unshift(error);
  // Whatever is still being carried out finishes before the state is final.
  while (inFlight.size > 0) await Promise.allSettled([...inFlight]);

  if (errors.length === 0) {
    for (const [key, r] of Object.entries(state.resources)) {
      if (seen.has(key)) continue;
      const started = Date.now();
      ctx.log(`deleting ${r.type} ${r.name}: no longer declared`);
      await PROVIDERS[r.type]?.delete?.(r.id, reveal(r.outputs) as Record<string, unknown>);
      delete state.resources[key];
      save();
      operations.push({ op: 'delete', type: r.type, name: r.name, ms: Date.now() - started });
    }
  }

  const outputs = errors.length === 0 ? await resolveExports(exported) : {};
  const result: ApplyResult = {
    operations,
    outputs,
    error: errors.length > 0 ? errors.join('\n') : undefined,
  };
  return result;
});
