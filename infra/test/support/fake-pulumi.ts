// A stand-in for the Pulumi CLI for the deploy script's tests: keeps stack config and outputs
// in a JSON file ($FAKE_PULUMI_STATE), records every call, and on `up` derives the outputs
// from the config the way the program does (or fails, when asked to).
import { readFileSync, writeFileSync } from 'node:fs';

export interface FakeState {
  config: Record<string, Record<string, string>>;
  outputs: Record<string, Record<string, unknown>>;
  failUp?: boolean;
  calls: string[][];
}

const path = process.env['FAKE_PULUMI_STATE'] ?? '';
const state = JSON.parse(readFileSync(path, 'utf8')) as FakeState;
const args = process.argv.slice(2);
state.calls.push(args);
const save = () => writeFileSync(path, JSON.stringify(state));
const flag = (name: string) => args[args.indexOf(name) + 1] ?? '';
const stack = flag('--stack');
const config = (state.config[stack] ??= {});

function exit(code: number, out = ''): never {
  save();
  if (out !== '') process.stdout.write(out);
  process.exit(code);
}

const [cmd, sub] = args;
if (cmd === 'version') exit(0, 'v3.0.0-fake\n');
if (cmd === 'plugin' || (cmd === 'stack' && sub === 'select')) exit(0);
if (cmd === 'stack' && sub === 'output') exit(0, `${JSON.stringify(state.outputs[stack] ?? {})}\n`);
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
  state.outputs[stack] = {
    activeColor: config['activeColor'],
    blueImage: config['blueImage'] || release,
    greenImage: config['greenImage'] || release,
    imageRef: release,
    commit: config['commit'] || 'head',
    url: `https://${stack}.example.com`,
  };
  exit(0);
}
exit(2, `fake pulumi: unexpected ${args.join(' ')}\n`);
