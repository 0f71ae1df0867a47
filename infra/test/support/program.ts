// What run-program.ts and e2e/apply-program.ts share: a script that reads a request, runs the
// Pulumi program (the file Pulumi.yaml names as `main`) once under Pulumi's mock runtime, and
// writes its result as JSON. Node loads the program the way Pulumi's Node.js language host
// does: chdir to the directory of `main`, then a dynamic import() of the .ts file (an ES
// module; Node strips the types), inside the root stack.
//
// One program run per process: Pulumi's runtime state and the module cache are global.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as pulumi from '@pulumi/pulumi';
import { parse } from 'yaml';

export interface ProgramRequest {
  stack: string;
  /** Full keys (chatbot:image) to string values, as Pulumi passes them to a program. */
  config: Record<string, string>;
  secretKeys: string[];
  /** The repository root (where Pulumi.yaml is). */
  root: string;
  /** Where the result is written. */
  out: string;
}

export const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * Runs the script: `node <script> <request.json>` reads the request, `run` returns the result,
 * which is written to the request's `out`; exits 0, or 2 if `run` throws.
 */
export function programScript<R extends ProgramRequest>(
  script: string,
  run: (req: R) => Promise<unknown>,
): void {
  const main = async () => {
    const requestPath = process.argv[2];
    if (requestPath === undefined) throw new Error(`usage: ${script} <request.json>`);
    const req = JSON.parse(readFileSync(requestPath, 'utf8')) as R;
    const result = await run(req);
    writeFileSync(req.out, JSON.stringify(result, null, 1));
  };
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(2);
    },
  );
}

/**
 * Runs the program with the request's stack and config against the mocks. `inStack` runs
 * inside the root stack just before the program is imported. Returns the program's exports
 * and the message of the error it stopped with, if any.
 */
export async function runProgram(
  req: ProgramRequest,
  mocks: pulumi.runtime.Mocks,
  inStack?: () => void,
): Promise<{ exported: Record<string, unknown>; error: string | undefined }> {
  const project = parse(readFileSync(join(req.root, 'Pulumi.yaml'), 'utf8')) as {
    name: string;
    main: string;
  };
  const mainPath = join(req.root, project.main);

  pulumi.runtime.setAllConfig(req.config, req.secretKeys);
  await pulumi.runtime.setMocks(mocks, project.name, req.stack, false, 'organization');

  // As Pulumi's language host does: the program's directory is the working directory.
  process.chdir(dirname(mainPath));

  let exported: Record<string, unknown> = {};
  try {
    await pulumi.runtime.runInPulumiStack(async () => {
      inStack?.();
      exported = (await import(pathToFileURL(mainPath).href)) as Record<string, unknown>;
      return exported;
    });
    await pulumi.runtime.disconnect();
  } catch (err) {
    return { exported, error: errorMessage(err) };
  }
  return { exported, error: undefined };
}

/** The program's exports, outputs resolved (a secret output as {__secret: value}). */
export async function resolveExports(exported: Record<string, unknown>): Promise<Record<string, unknown>> {
  const outputs: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(exported)) {
    if (pulumi.Output.isInstance(value)) {
      const plain = await new Promise((resolve) => value.apply(resolve));
      outputs[key] = (await pulumi.isSecret(value)) ? { __secret: plain } : plain;
    } else {
      outputs[key] = value;
    }
  }
  return outputs;
}
