// `gitlab-ci-local --list-json` on a copy of the pipeline file, with a pipeline's predefined
// variables. The copy lives in a temporary directory of its own, so the answer does not depend
// on this checkout's branch, remote or git at all (gitlab-ci-local reads those when present).
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { Vars } from './rules.ts';

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

export async function listJobs(pipelineFile: string, vars: Vars): Promise<ListedJob[]> {
  const dir = mkdtempSync(join(tmpdir(), 'chatbot-gcl-'));
  try {
    copyFileSync(pipelineFile, join(dir, '.gitlab-ci.yml'));
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
    return (JSON.parse(json) as ListedJob[]).filter((j) => j.when !== 'never');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
