// A stand-in for the Pulumi CLI (and for `docker`, when called as fake-docker) for the
// deploy script's tests. State lives in a JSON file ($FAKE_PULUMI_STATE): stack config, what
// each stack runs, and every call. `up` deploys what the config says, as the program would;
// `stack export` shows it the way Pulumi records the program's resources.
import { readFileSync, writeFileSync } from 'node:fs';

export interface Deployed {
  activeColor: string;
  blueImage: string;
  greenImage: string;
  imageRef: string;
  commit: string;
}

export interface FakeState {
  config: Record<string, Record<string, string>>;
  deployed: Record<string, Deployed>;
  /** Registry tags `docker pull` finds, with their digests. */
  registry?: Record<string, string>;
  unhealthy?: string[];
  failUp?: boolean;
  calls: string[][];
}

const path = process.env['FAKE_PULUMI_STATE'] ?? '';
const state = JSON.parse(readFileSync(path, 'utf8')) as FakeState;
const tool = process.argv[2];
const args = process.argv.slice(3);
state.calls.push([tool === 'docker' ? 'docker' : 'pulumi', ...args]);

function exit(code: number, out = ''): never {
  writeFileSync(path, JSON.stringify(state));
  if (out !== '') process.stdout.write(out);
  process.exit(code);
}

const containers = (stack: string, color: string) => [1, 2].map((i) => `chatbot-${stack}-app-${color}-${i}`);

function exported(stack: string): unknown {
  const d = state.deployed[stack];
  if (d === undefined) return { version: 3, deployment: { resources: [] } };
  const urn = (type: string, name: string) => `urn:pulumi:${stack}::chatbot::${type}::${name}`;
  const resources = [
    {
      urn: urn('chatbot:infra:Proxy$command:local:Command', 'proxy-switch'),
      type: 'command:local:Command',
      inputs: { stdin: `upstream chatbot_app {}\nmap $host $chatbot_color { default ${d.activeColor}; }\n` },
    },
    {
      urn: urn('chatbot:infra:Migrations$command:local:Command', 'migrations-migrate'),
      type: 'command:local:Command',
      inputs: { triggers: [d.imageRef, 'hash'] },
    },
    ...['blue', 'green'].flatMap((color) =>
      containers(stack, color).map((name, i) => ({
        urn: urn('chatbot:infra:AppService$docker:index/container:Container', `app-${color}-${i + 1}`),
        type: 'docker:index/container:Container',
        inputs: { name, image: color === 'blue' ? d.blueImage : d.greenImage },
      })),
    ),
  ];
  return { version: 3, deployment: { resources } };
}

if (tool === 'docker') {
  const [cmd] = args;
  if (cmd === 'inspect') {
    const names = args.slice(3);
    exit(
      0,
      names.map((n) => ((state.unhealthy ?? []).includes(n) ? 'unhealthy' : 'healthy')).join('\n') + '\n',
    );
  }
  const tag = args[args.length - 1] ?? '';
  const digest = state.registry?.[tag];
  if (cmd === 'pull') exit(digest === undefined ? 1 : 0);
  if (cmd === 'image' && digest !== undefined) exit(0, `${JSON.stringify([digest])}\n`);
  exit(1);
}

const flag = (name: string) => args[args.indexOf(name) + 1] ?? '';
const stack = flag('--stack');
const config = (state.config[stack] ??= {});
const [cmd, sub] = args;
if (cmd === 'version') exit(0, 'v3.0.0-fake\n');
if (cmd === 'plugin' || (cmd === 'stack' && sub === 'select')) exit(0);
if (cmd === 'stack' && sub === 'export') exit(0, `${JSON.stringify(exported(stack))}\n`);
if (cmd === 'stack' && sub === 'output') {
  const d = state.deployed[stack];
  exit(0, `${JSON.stringify(d === undefined ? {} : { ...d, url: `https://${stack}.example.com` })}\n`);
}
if (cmd === 'config' && sub === 'get') {
  const value = config[args[2] ?? ''];
  if (value === undefined) exit(1);
  exit(0, `${value}\n`);
}
if (cmd === 'config' && sub === 'set') {
  config[args[2] ?? ''] = args[3] ?? '';
  exit(0);
}
if (cmd === 'config' && sub === 'rm') {
  delete config[args[2] ?? ''];
  exit(0);
}
if (cmd === 'up') {
  if (state.failUp === true) exit(255);
  const release = config['image'] || `built:${config['commit'] || 'head'}`;
  state.deployed[stack] = {
    activeColor: config['activeColor'] ?? 'blue',
    blueImage: config['blueImage'] || release,
    greenImage: config['greenImage'] || release,
    imageRef: release,
    commit: config['commit'] || 'head',
  };
  exit(0);
}
exit(2, `fake pulumi: unexpected ${args.join(' ')}\n`);
