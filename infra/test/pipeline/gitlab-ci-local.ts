// Which jobs a pipeline holds, as gitlab-ci-local evaluates the rules: `gitlab-ci-local
// --list-json` on a copy of the pipeline file, with a pipeline's predefined variables. The copy
// lives in a temporary directory of its own, so the answer does not depend on this checkout's
// branch, remote or git at all (gitlab-ci-local reads those when present).
//
// gitlab-ci-local applies `workflow:rules` for their variables only and lists the jobs even
// when the workflow would create no pipeline. So the copy gets one more job whose rules are the
// workflow's: where gitlab-ci-local lists that job, GitLab creates the pipeline (a rule
// list means the same for a job and for the workflow: the first rule that matches decides,
// `when: never` drops it, and no match drops it).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import type { Vars } from './file.ts';

const exec = promisify(execFile);
const require = createRequire(import.meta.url);
export const GITLAB_CI_LOCAL = join(
  dirname(require.resolve('gitlab-ci-local/package.json')),
  'dist',
  'index.js',
);

/** Predefined variables gitlab-ci-local would otherwise fill in from git, unset unless given. */
const FROM_GIT = [
  'CI_COMMIT_BRANCH',
  'CI_COMMIT_TAG',
  'CI_COMMIT_REF_NAME',
  'CI_MERGE_REQUEST_IID',
  'CI_OPEN_MERGE_REQUESTS',
];

/**
 * This process's environment without what would steer gitlab-ci-local: its own GCL_* options
 * (set inside a job that gitlab-ci-local runs) and a CI job's predefined variables.
 */
function ownEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^(GCL_|CI_|GITLAB_)/.test(name) && name !== 'CI'),
  );
}

export interface ListedJob {
  name: string;
  stage: string;
  when: string;
  allow_failure: boolean;
}

const PROBE = 'workflow-rules-probe';

/** The jobs of the pipeline these variables make, or null when its workflow makes none. */
export async function listJobs(pipelineFile: string, vars: Vars): Promise<ListedJob[] | null> {
  const dir = mkdtempSync(join(tmpdir(), 'chatbot-gcl-'));
  try {
    const text = readFileSync(pipelineFile, 'utf8');
    const doc = parse(text, { merge: true }) as {
      stages?: string[];
      workflow?: { rules?: unknown[] };
    };
    const rules = doc.workflow?.rules;
    const probe =
      rules === undefined
        ? ''
        : `\n${PROBE}:\n  stage: ${JSON.stringify(doc.stages?.[0] ?? 'test')}\n` +
          `  script: [":"]\n  rules: ${JSON.stringify(rules)}\n`;
    writeFileSync(join(dir, '.gitlab-ci.yml'), text + probe);
    const args = [GITLAB_CI_LOCAL, '--list-json', '--no-color'];
    const given = Object.entries(vars).filter((e): e is [string, string] => e[1] !== undefined);
    for (const name of FROM_GIT) if (vars[name] === undefined) args.push('--unset-variable', name);
    for (const [name, value] of given) args.push('--variable', `${name}=${value}`);
    args.push('--ignore-predefined-vars', [...FROM_GIT, ...given.map(([n]) => n)].join(','));
    const { stdout } = await exec(process.execPath, args, {
      cwd: dir,
      env: ownEnv(),
      maxBuffer: 16 * 1024 * 1024,
    });
    const json = stdout.slice(stdout.indexOf('['));
    const listed = (JSON.parse(json) as ListedJob[]).filter((j) => j.when !== 'never');
    if (rules !== undefined && !listed.some((j) => j.name === PROBE)) return null;
    return listed.filter((j) => j.name !== PROBE);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
