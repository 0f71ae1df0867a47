// What the service's benchmarks share.
import { spawn, type ChildProcess } from 'node:child_process';

/** The tests' LLM stub as a process of its own (no delay), on a free loopback port. */
export async function startStub(): Promise<{ url: string; child: ChildProcess }> {
  const main = new URL('../test/support/llm-stub.ts', import.meta.url).pathname;
  const child = spawn(process.execPath, [main], {
    env: { PATH: process.env.PATH ?? '', STUB_HOST: '127.0.0.1', STUB_PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (text: string) => {
      out += text;
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`stub exited with ${code}`)));
  });
  return { url, child };
}
