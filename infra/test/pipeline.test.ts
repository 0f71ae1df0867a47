// The GitLab pipeline (.gitlab-ci.yml): which jobs each kind of pipeline holds, as
// gitlab-ci-local evaluates its rules; what the deploy jobs run and with which guards; and the
// small scripts under ci/ the jobs call.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { coberturaLines, summarize, summaryLine } from '../../ci/coverage-summary.ts';
import { slackText } from '../../ci/notify-slack.ts';
import { previewPlan } from '../../ci/preview.ts';
import { startFakeApi, type FakeApi } from './pipeline/fake-api.ts';
import { listJobs, type ListedJob } from './pipeline/gitlab-ci-local.ts';
import { jobNames, loadPipeline, resolveJob, type Doc, type Job, type Vars } from './pipeline/file.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PIPELINE = join(ROOT, '.gitlab-ci.yml');
const doc: Doc = loadPipeline(PIPELINE);
const job = (name: string): Job => resolveJob(doc, name);
const script = (name: string): string => ([] as string[]).concat(job(name)['script'] as string[]).join('\n');
const globals = doc['variables'] as Record<string, string>;

const CHECKS = ['verify', 'deploy-image', 'test', 'docker-tests', 'web-e2e'];
const DEPLOYS = ['deploy:staging', 'deploy:production', 'rollback:production'];

const push = (branch: string): Vars => ({
  CI_PIPELINE_SOURCE: 'push',
  CI_COMMIT_BRANCH: branch,
  CI_COMMIT_REF_NAME: branch,
  CI_DEFAULT_BRANCH: 'main',
});
const tag = (name: string): Vars => ({
  CI_PIPELINE_SOURCE: 'push',
  CI_COMMIT_TAG: name,
  CI_COMMIT_REF_NAME: name,
  CI_DEFAULT_BRANCH: 'main',
});

const SCENARIOS: { name: string; vars: Vars; jobs: string[] }[] = [
  {
    name: 'a merge request',
    vars: {
      CI_PIPELINE_SOURCE: 'merge_request_event',
      CI_MERGE_REQUEST_IID: '7',
      CI_COMMIT_REF_NAME: 'feature/login',
      CI_MERGE_REQUEST_TARGET_BRANCH_NAME: 'develop',
      CI_DEFAULT_BRANCH: 'main',
    },
    jobs: [...CHECKS, 'preview:staging', 'preview:production'],
  },
  { name: 'a push to develop', vars: push('develop'), jobs: [...CHECKS, 'deploy:staging'] },
  { name: 'a push to main', vars: push('main'), jobs: CHECKS },
  { name: 'a push to a feature branch without a merge request', vars: push('feature/login'), jobs: CHECKS },
  {
    name: 'a tag v1.2.3',
    vars: tag('v1.2.3'),
    jobs: [...CHECKS, 'deploy:production', 'rollback:production'],
  },
  { name: 'a tag v1.2', vars: tag('v1.2'), jobs: CHECKS },
  { name: 'a tag release-1', vars: tag('release-1'), jobs: CHECKS },
  { name: 'a tag v1.2.3-rc1', vars: tag('v1.2.3-rc1'), jobs: CHECKS },
  {
    name: 'a scheduled pipeline on develop',
    vars: { ...push('develop'), CI_PIPELINE_SOURCE: 'schedule' },
    jobs: CHECKS,
  },
];

describe('which jobs a pipeline holds (gitlab-ci-local evaluates the rules)', () => {
  const listed = new Map<string, Promise<ListedJob[] | null>>();
  /** gitlab-ci-local's list for these variables, asked once per pipeline. */
  const jobsOf = (vars: Vars) => {
    const key = JSON.stringify(vars);
    if (!listed.has(key)) listed.set(key, listJobs(PIPELINE, vars));
    return listed.get(key)!;
  };

  for (const scenario of SCENARIOS) {
    it(`${scenario.name}: ${scenario.jobs.join(', ')}`, async () => {
      const jobs = await jobsOf(scenario.vars);
      expect(jobs?.map((j) => j.name).sort()).toEqual([...scenario.jobs].sort());
    });
  }

  it('a push to a branch with an open merge request makes no second pipeline', async () => {
    expect(await jobsOf({ ...push('feature/login'), CI_OPEN_MERGE_REQUESTS: 'group/chatbot!7' })).toBeNull();
  });

  it('a pipeline the workflow does not name (a web-triggered one without a branch) is not created', async () => {
    expect(await jobsOf({ CI_PIPELINE_SOURCE: 'web', CI_DEFAULT_BRANCH: 'main' })).toBeNull();
  });

  it('every job the file defines runs in some pipeline', async () => {
    const seen = new Set<string>();
    for (const s of SCENARIOS) for (const j of (await jobsOf(s.vars)) ?? []) seen.add(j.name);
    expect(jobNames(doc).filter((name) => !seen.has(name))).toEqual([]);
  });

  it('deploys production only on approval, and rollback too, without blocking the pipeline', async () => {
    const jobs = (await jobsOf(tag('v1.2.3'))) ?? [];
    const of = (name: string) => jobs.find((j) => j.name === name);
    expect(of('deploy:production')).toMatchObject({ when: 'manual', allow_failure: false });
    expect(of('rollback:production')).toMatchObject({ when: 'manual', allow_failure: true });
    expect((await jobsOf(push('develop')))?.find((j) => j.name === 'deploy:staging')?.when).toBe(
      'on_success',
    );
  });

  it('runs production after the checks of the same pipeline (stage order)', () => {
    const stages = doc['stages'] as string[];
    const stageOf = (name: string) => stages.indexOf(String(job(name)['stage']));
    for (const check of CHECKS) {
      expect(stageOf(check)).toBeGreaterThanOrEqual(0);
      expect(stageOf(check)).toBeLessThan(stageOf('deploy:staging'));
      expect(stageOf(check)).toBeLessThan(stageOf('deploy:production'));
    }
  });
});

describe('the deploy jobs', () => {
  const deploying = jobNames(doc).filter((name) =>
    /npm run (deploy|rollback) -w infra|pulumi up/.test(script(name)),
  );

  it('are exactly the staging and production deploys and the rollback', () => {
    expect(deploying.sort()).toEqual([...DEPLOYS].sort());
  });

  it('each hold their environment as a resource group, with the environment name and URL', () => {
    for (const name of deploying) {
      const env = job(name)['environment'] as { name: string; url: string };
      expect(env.name, name).toMatch(/^(staging|production)$/);
      expect(env.url, name).toBe('$DEPLOY_URL');
      expect(job(name)['resource_group'], name).toBe(env.name);
      expect(job(name)['interruptible'], name).toBe(false);
      // The URL comes from the stack's output, handed to GitLab as a dotenv report.
      expect(script(name)).toContain(`pulumi stack output url --stack ${env.name}`);
      expect((job(name)['artifacts'] as { reports: { dotenv: string } }).reports.dotenv).toBe('deploy.env');
    }
  });

  it('run in the version-pinned deploy image, prepared by ci/deploy-env.sh for their stack', () => {
    for (const name of [...deploying, 'preview:staging', 'preview:production']) {
      expect(job(name)['image'], name).toBe('$DEPLOY_IMAGE');
      expect((job(name)['before_script'] as string[]).join('\n')).toContain('sh ci/deploy-env.sh "$STACK"');
      const stack = (job(name)['variables'] as Record<string, string>)['STACK'];
      expect(name.endsWith(`:${stack}`), name).toBe(true);
    }
  });

  it('smoke-check the stack through its URL after every deploy and rollback', () => {
    for (const name of deploying) expect(script(name), name).toMatch(/node ci\/smoke\.ts "\$DEPLOY_URL"$/);
  });

  it('staging builds this commit (tagged with it) and pushes it to the registry', () => {
    expect(script('deploy:staging')).toContain(
      'npm run deploy -w infra -- --stack staging --commit "$CI_COMMIT_SHA" --yes',
    );
    const staging = parse(readFileSync(join(ROOT, 'Pulumi.staging.yaml'), 'utf8')) as { config: Doc };
    expect(staging.config['chatbot:push']).toBe(true);
  });

  it("production takes the tagged commit's image by digest and never builds", () => {
    const text = script('deploy:production');
    expect(text).toContain('npm run deploy -w infra -- --stack production --commit "$CI_COMMIT_SHA" --yes');
    expect(text).not.toMatch(/--image|docker (build|push)|buildx/);
    const production = parse(readFileSync(join(ROOT, 'Pulumi.production.yaml'), 'utf8')) as { config: Doc };
    expect(production.config['chatbot:push']).toBe(false);
    expect(production.config['chatbot:environment']).toBe('production');
    // Both stacks get the same image repository, so the tag staging pushed is the one found.
    expect(readFileSync(join(ROOT, 'ci/deploy-env.sh'), 'utf8')).toMatch(
      /config set --stack "\$stack" imageRepository "\$\{APP_IMAGE_REPOSITORY:-\$CI_REGISTRY_IMAGE\/app\}"/,
    );
  });

  it('rolls production back by switching colors, with nothing built', () => {
    expect(script('rollback:production')).toContain('npm run rollback -w infra -- --stack production --yes');
    expect(script('rollback:production')).not.toMatch(/npm run deploy|docker (build|push)/);
  });

  it('tell Slack about production deploys and rollbacks, whatever the outcome', () => {
    for (const name of ['deploy:production', 'rollback:production']) {
      expect((job(name)['after_script'] as string[]).join('\n'), name).toContain('node ci/notify-slack.ts');
    }
  });
});

describe('the check jobs', () => {
  it('verify typechecks and lints; verify and the tests may be interrupted by a newer pipeline', () => {
    expect(script('verify')).toMatch(/npm run typecheck[\s\S]*npm run lint/);
    // npm run lint runs shellcheck, which the node image lacks.
    expect(script('verify')).toMatch(/apt-get install [^\n]*shellcheck[\s\S]*npm run lint/);
    for (const name of CHECKS) expect(job(name)['interruptible'], name).toBe(true);
  });

  it('install with npm ci from a cache keyed on package-lock.json', () => {
    for (const name of ['verify', 'test', 'docker-tests', 'web-e2e', ...DEPLOYS]) {
      expect((job(name)['before_script'] as string[]).join('\n'), name).toContain('npm ci');
      const caches = ([] as Record<string, unknown>[]).concat(job(name)['cache'] as Record<string, unknown>);
      const npmCache = caches.find((c) => (c['paths'] as string[]).includes('.npm/'));
      expect(npmCache?.['key'], name).toEqual({ files: ['package-lock.json'] });
    }
    expect(globals['npm_config_cache']).toBe('$CI_PROJECT_DIR/.npm');
  });

  it('test runs against Postgres + pgvector and Redis services through TEST_DATABASE_URL / TEST_REDIS_URL', () => {
    const services = job('test')['services'] as { name: string; alias: string }[];
    expect(services).toEqual([
      { name: 'pgvector/pgvector:pg17', alias: 'postgres' },
      { name: 'redis:7.4-bookworm', alias: 'redis' },
    ]);
    for (const name of ['test', 'docker-tests', 'web-e2e']) {
      const vars = job(name)['variables'] as Record<string, string>;
      const database = new URL(vars['TEST_DATABASE_URL'] ?? '');
      expect(database.host, name).toBe('postgres:5432');
      expect(database.password, name).toBe(vars['POSTGRES_PASSWORD']);
      expect(new URL(vars['TEST_REDIS_URL'] ?? '').host, name).toBe('redis:6379');
    }
    // Deploy jobs carry no test database settings.
    expect(Object.keys(job('deploy:production')['variables'] as object)).not.toContain('TEST_DATABASE_URL');
  });

  it('test leaves the Docker and browser tests to their jobs and reports coverage and JUnit results', () => {
    const text = script('test');
    expect(text).toContain("--exclude '**/*.docker.test.*'");
    expect(text).toContain("--exclude '**/*.browser.test.*'");
    expect(text).toMatch(
      /--coverage\.enabled .*--coverage\.reporter=cobertura .*--coverage\.reporter=text-summary/,
    );
    expect(text).toContain('--reporter=junit --outputFile.junit=test-results/junit.xml');
    const reports = (job('test')['artifacts'] as { reports: Record<string, unknown> }).reports;
    expect(reports['junit']).toBe('*/test-results/junit.xml');
    expect(reports['coverage_report']).toEqual({
      coverage_format: 'cobertura',
      path: '*/coverage/cobertura-coverage.xml',
    });
  });

  it("test's coverage regex reads vitest's text-summary line, and the total printed after it", () => {
    const source = String(job('test')['coverage']);
    const re = new RegExp(source.slice(1, source.lastIndexOf('/')), 'm');
    expect(re.exec('Lines        : 83.25% ( 1234/1482 )')?.[1]).toBe('83.25');
    expect(re.exec('Statements   : 80% ( 8/10 )')).toBeNull();
    // GitLab takes the last match of the log: the summary over every workspace.
    const log = [
      'Lines        : 91.5% ( 183/200 )',
      'Lines        : 50% ( 50/100 )',
      summaryLine({ covered: 233, valid: 300 }),
    ];
    const last = log
      .map((l) => re.exec(l)?.[1])
      .filter(Boolean)
      .pop();
    expect(last).toBe('77.66');
  });

  it('docker-tests runs only the *.docker.test.ts files, on a docker:dind engine it reaches by name', () => {
    const j = job('docker-tests');
    const services = j['services'] as { name: string; alias: string }[];
    expect(services.map((s) => s.alias).sort()).toEqual(['docker', 'postgres', 'redis']);
    expect(services.find((s) => s.alias === 'docker')?.name).toBe('docker:$DOCKER_VERSION-dind');
    expect((j['variables'] as Record<string, string>)['DOCKER_HOST']).toBe('tcp://docker:2375');
    expect(script('docker-tests')).toMatch(/npm run test -w service -w infra -- \.docker\.test\./);
  });

  it('web-e2e runs the browser test with Chromium from Debian', () => {
    expect((job('web-e2e')['before_script'] as string[]).join('\n')).toMatch(/apt-get install .*chromium/);
    expect(script('web-e2e')).toMatch(/npm run test -w web -- \.browser\.test\./);
    // The screenshots the test writes to web/test-results/browser/ are kept.
    expect((job('web-e2e')['artifacts'] as { paths: string[] }).paths).toEqual(['web/test-results/']);
  });
});

describe('the deploy image', () => {
  const dockerfile = readFileSync(join(ROOT, 'ci/deploy.Dockerfile'), 'utf8');
  const arg = (name: string) => new RegExp(`^ARG ${name}=(\\S+)$`, 'm').exec(dockerfile)?.[1];

  it('is tagged with its Pulumi version and a hash of ci/deploy.Dockerfile, so every change is rebuilt', () => {
    const hash = createHash('sha256').update(dockerfile).digest('hex').slice(0, 12);
    expect(globals['DEPLOY_IMAGE']).toBe(
      `$CI_REGISTRY_IMAGE/ci-deploy:pulumi-${arg('PULUMI_VERSION')}-${hash}`,
    );
  });

  it('holds a Pulumi CLI at least as new as the SDK in package-lock.json', () => {
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { version?: string }>;
    };
    const sdk = lock.packages['node_modules/@pulumi/pulumi']?.version ?? '';
    const cli = arg('PULUMI_VERSION') ?? '';
    const n = (v: string) => v.split('.').map(Number);
    const [a, b] = [n(cli), n(sdk)];
    const cmp = (a[0]! - b[0]!) * 1e6 + (a[1]! - b[1]!) * 1e3 + (a[2]! - b[2]!);
    expect(cmp, `CLI ${cli} vs SDK ${sdk}`).toBeGreaterThanOrEqual(0);
  });

  it('takes its docker CLI from the same Docker version as the dind service, and Node 24', () => {
    expect(arg('DOCKER_CLI_IMAGE')).toBe(`docker:${globals['DOCKER_VERSION']}-cli`);
    expect(arg('NODE_IMAGE')).toMatch(/^node:24-/);
    expect(job('deploy-image')['image']).toBe('docker:$DOCKER_VERSION-cli');
  });
});

describe('secrets', () => {
  const SECRETS = [
    'CI_REGISTRY_PASSWORD',
    'PULUMI_CONFIG_PASSPHRASE',
    'PULUMI_ACCESS_TOKEN',
    'SMOKE_TOKEN',
    'SLACK_WEBHOOK',
  ];
  const files = ['.gitlab-ci.yml', 'ci/deploy-env.sh'];

  it('reach commands only through stdin or the environment, never as arguments', () => {
    for (const file of files) {
      for (const line of readFileSync(join(ROOT, file), 'utf8').split('\n')) {
        if (line.trim().startsWith('#')) continue;
        for (const secret of SECRETS) {
          if (!new RegExp(`\\$\\{?${secret}\\b`).test(line)) continue;
          const viaStdin = new RegExp(`printf '%s' "\\$\\{?${secret}(:\\?)?\\}?" \\|`).test(line);
          const test = new RegExp(`\\[ -[nz] "\\$\\{${secret}:-\\}" \\]`).test(line);
          expect(viaStdin || test, `${file}: ${line.trim()}`).toBe(true);
        }
      }
    }
  });

  it('are not written into the pipeline file', () => {
    for (const secret of SECRETS) expect(Object.keys(globals)).not.toContain(secret);
  });
});

// --- the scripts under ci/ ------------------------------------------------------------------

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(
  command: string,
  args: string[],
  env: Record<string, string | undefined>,
  cwd = ROOT,
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      env: { PATH: process.env['PATH'], ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('ci/smoke.ts', () => {
  let api: FakeApi | undefined;
  afterEach(async () => {
    await api?.close();
    api = undefined;
  });
  const smoke = (url: string, env: Record<string, string> = {}) =>
    run(process.execPath, ['ci/smoke.ts', url], { SMOKE_HEALTH_INTERVAL_MS: '20', ...env });

  it('passes on a healthy stack and, with SMOKE_TOKEN, one chat turn (session deleted afterwards)', async () => {
    api = await startFakeApi({ token: 'cbk_secret_smoke_key' });
    const r = await smoke(`${api.url}/`, { SMOKE_TOKEN: 'cbk_secret_smoke_key' });
    expect(r.code, r.stderr).toBe(0);
    expect(api.requests.map((q) => `${q.method} ${q.path.replace(/[0-9a-f-]{36}/, '{id}')}`)).toEqual([
      'GET /health',
      'POST /v1/sessions',
      'POST /v1/sessions/{id}/messages',
      'DELETE /v1/sessions/{id}',
    ]);
    expect(api.requests.slice(1).every((q) => q.authorization === 'Bearer cbk_secret_smoke_key')).toBe(true);
    expect(api.sessions.size).toBe(0);
    expect(r.stdout).toMatch(/chat turn 201, reply complete/);
    expect(r.stdout + r.stderr).not.toContain('cbk_secret_smoke_key');
  });

  it('checks /health alone without SMOKE_TOKEN, waiting while the stack is still unhealthy', async () => {
    api = await startFakeApi({ unhealthyFirst: 2 });
    const r = await smoke(api.url);
    expect(r.code, r.stderr).toBe(0);
    expect(api.requests.map((q) => q.path)).toEqual(['/health', '/health', '/health']);
    expect(r.stdout).toContain('SMOKE_TOKEN not set');
  });

  it('fails when /health stays unhealthy, saying which check failed', async () => {
    api = await startFakeApi({ unhealthyFirst: 100 });
    const r = await smoke(api.url, { SMOKE_HEALTH_ATTEMPTS: '3' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/GET \/health: 503 .*"database":"error".*after 3 attempts/);
  });

  it('fails when the chat turn fails, with the API error code, and still deletes the session', async () => {
    api = await startFakeApi({ token: 'cbk_x', chat: 'upstream_error' });
    const r = await smoke(api.url, { SMOKE_TOKEN: 'cbk_x' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/messages: 502 upstream_error: the model provider failed/);
    expect(api.sessions.size).toBe(0);
  });

  it('fails on a credential the stack refuses', async () => {
    api = await startFakeApi({ token: 'cbk_right' });
    const r = await smoke(api.url, { SMOKE_TOKEN: 'cbk_wrong' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/POST \/v1\/sessions: 401 unauthorized/);
    expect(r.stderr).not.toContain('cbk_wrong');
  });

  it('fails when nothing answers, and on a missing URL', async () => {
    const r = await smoke('http://127.0.0.1:9', { SMOKE_HEALTH_ATTEMPTS: '2' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/GET \/health: .*after 2 attempts/);
    expect((await run(process.execPath, ['ci/smoke.ts'], {})).code).toBe(2);
  });
});

describe('ci/notify-slack.ts', () => {
  it('posts the job status to the webhook from the environment, and nothing without one', async () => {
    const bodies: string[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        bodies.push(body);
        res.end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const webhook = `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/T0/B0/secret`;
      const env = {
        CI_JOB_STATUS: 'failed',
        CI_COMMIT_SHORT_SHA: 'abc1234',
        DEPLOY_URL: 'https://chat.example.com',
      };
      const sent = await run(process.execPath, ['ci/notify-slack.ts', 'Production deploy of v1.2.3'], {
        ...env,
        SLACK_WEBHOOK: webhook,
      });
      expect(sent.stdout).toContain('slack: message sent');
      expect(sent.stdout).not.toContain('secret');
      expect(JSON.parse(bodies[0] ?? '{}')).toEqual({ text: slackText('Production deploy of v1.2.3', env) });
      expect(bodies[0]).toMatch(
        /:x: Production deploy of v1\.2\.3: failed.*https:\/\/chat\.example\.com.*abc1234/,
      );

      const none = await run(process.execPath, ['ci/notify-slack.ts', 'x'], env);
      expect(none.stdout).toContain('SLACK_WEBHOOK not set');
      expect(bodies).toHaveLength(1);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('never fails the job or prints the webhook when Slack cannot be reached', async () => {
    const r = await run(process.execPath, ['ci/notify-slack.ts', 'x'], {
      SLACK_WEBHOOK: 'http://127.0.0.1:9/hook-secret',
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/could not post/);
    expect(r.stdout + r.stderr).not.toContain('hook-secret');
  });
});

describe('ci/coverage-summary.ts', () => {
  const report = (covered: number, valid: number) =>
    `<?xml version="1.0" ?>\n<coverage lines-valid="${valid}" lines-covered="${covered}" line-rate="0.5" branches-valid="4" branches-covered="2" version="0.1">\n<sources/></coverage>\n`;

  it('adds up the workspaces into one Lines line, skipping a workspace without a report', () => {
    const dir = mkdtempSync(join(tmpdir(), 'chatbot-cov-'));
    try {
      writeFileSync(join(dir, 'a.xml'), report(90, 100));
      writeFileSync(join(dir, 'b.xml'), report(10, 50));
      const out = summarize([join(dir, 'a.xml'), join(dir, 'missing.xml'), join(dir, 'b.xml')]);
      expect(out.at(-1)).toBe('Lines        : 66.66% ( 100/150 )');
      expect(out.some((l) => l.includes('missing.xml not found'))).toBe(true);
      expect(() => summarize([join(dir, 'missing.xml')])).toThrow(/no coverage report/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses what is not a cobertura report', () => {
    expect(coberturaLines(report(3, 4))).toEqual({ covered: 3, valid: 4 });
    expect(() => coberturaLines('<html></html>')).toThrow(/not a cobertura report/);
  });
});

describe('ci/preview.ts', () => {
  const running = {
    activeColor: 'blue' as const,
    blueImage: 'registry.example.com/chatbot/app@sha256:' + 'a'.repeat(64),
    greenImage: 'registry.example.com/chatbot/app@sha256:' + 'b'.repeat(64),
    imageRef: 'registry.example.com/chatbot/app@sha256:' + 'a'.repeat(64),
    commit: 'c0ffee',
  };

  it('previews staging as a deploy of this commit into the idle color', () => {
    expect(previewPlan('staging', running, 'abc123', 'blue')).toEqual({
      changes: {
        image: '',
        commit: 'abc123',
        blueImage: running.blueImage,
        greenImage: '',
        activeColor: 'green',
      },
    });
  });

  it('previews production at the release it runs, without switching', () => {
    expect(previewPlan('production', running, 'abc123', 'blue')).toEqual({
      changes: {
        image: running.imageRef,
        commit: 'c0ffee',
        blueImage: running.blueImage,
        greenImage: running.greenImage,
        activeColor: 'blue',
      },
    });
    expect(previewPlan('production', {}, 'abc123', 'blue')).toEqual({
      skip: expect.stringMatching(/not been deployed/),
    });
  });
});

describe('ci/deploy-env.sh', () => {
  let dir = '';
  let log = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'chatbot-deploy-env-'));
    mkdirSync(join(dir, 'bin'));
    log = join(dir, 'calls.log');
    // Stand-ins for pulumi and docker that record their arguments and standard input.
    for (const tool of ['pulumi', 'docker']) {
      const path = join(dir, 'bin', tool);
      writeFileSync(
        path,
        `#!/bin/sh\nin=""\nif [ ! -t 0 ]; then in="$(cat)"; fi\nprintf '%s | stdin=%s\\n' "${tool} $*" "$in" >> "${log}"\n`,
      );
      chmodSync(path, 0o755);
    }
    return () => rmSync(dir, { recursive: true, force: true });
  });

  const prepare = async (env: Record<string, string>) => {
    const home = mkdtempSync(join(dir, 'home-'));
    writeFileSync(log, '');
    const r = await run('sh', ['ci/deploy-env.sh', 'staging'], {
      PATH: `${join(dir, 'bin')}:${process.env['PATH'] ?? ''}`,
      HOME: home,
      ...env,
    });
    return { ...r, home, calls: readFileSync(log, 'utf8').trim().split('\n') };
  };

  it("installs the ssh key with ssh's permissions, the known hosts, and GitLab's registry for the stack", async () => {
    const key = join(dir, 'key-file');
    writeFileSync(key, '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----');
    chmodSync(key, 0o644);
    const r = await prepare({
      PULUMI_BACKEND_URL: 's3://state-bucket/chatbot',
      PULUMI_CONFIG_PASSPHRASE: 'passphrase-value',
      DEPLOY_SSH_KEY: key,
      DEPLOY_SSH_KNOWN_HOSTS: 'staging.chat.example.com ssh-ed25519 AAAAC3Nza',
      CI_REGISTRY: 'registry.gitlab.example.com',
      CI_REGISTRY_USER: 'gitlab-ci-token',
      CI_REGISTRY_PASSWORD: 'job-token-value',
      CI_REGISTRY_IMAGE: 'registry.gitlab.example.com/team/chatbot',
    });
    expect(r.code, r.stderr).toBe(0);
    const installed = join(r.home, '.ssh', 'id_deploy');
    expect(statSync(installed).mode & 0o777).toBe(0o600);
    expect(readFileSync(installed, 'utf8').endsWith('-----END OPENSSH PRIVATE KEY-----\n')).toBe(true);
    expect(readFileSync(join(r.home, '.ssh', 'known_hosts'), 'utf8')).toContain(
      'staging.chat.example.com ssh-ed25519',
    );
    expect(readFileSync(join(r.home, '.ssh', 'config'), 'utf8')).toMatch(/StrictHostKeyChecking yes/);
    expect(r.calls).toEqual([
      'pulumi stack select --create staging | stdin=',
      'docker login --username gitlab-ci-token --password-stdin registry.gitlab.example.com | stdin=job-token-value',
      'pulumi config set --stack staging imageRepository registry.gitlab.example.com/team/chatbot/app | stdin=',
      'pulumi config set --stack staging registryServer registry.gitlab.example.com | stdin=',
      'pulumi config set --stack staging registryUsername gitlab-ci-token | stdin=',
      'pulumi config set --stack staging --secret registryPassword | stdin=job-token-value',
    ]);
    expect(r.stdout).not.toMatch(/job-token-value|passphrase-value|state-bucket/);
  });

  it('refuses to run without a state backend, and an ssh key that is not a File variable', async () => {
    const none = await prepare({});
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/PULUMI_BACKEND_URL .*PULUMI_ACCESS_TOKEN/);
    const inline = await prepare({
      PULUMI_ACCESS_TOKEN: 'pul-x',
      DEPLOY_SSH_KEY: '-----BEGIN OPENSSH PRIVATE KEY-----',
    });
    expect(inline.code).toBe(1);
    expect(inline.stderr).toMatch(/DEPLOY_SSH_KEY must be a variable of type File/);
  });
});
