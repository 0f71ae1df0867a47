// The color switch's shell script lives in switch-upstream.sh (checked by shellcheck in
// `npm run lint`); the switch command runs it as proxy.ts renders it. Deployed stacks hold the
// rendered text as the command's `create` input, so a change to it shows up in their diffs.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { renderSwitchScript, SWITCH_SCRIPT } from '../proxy.ts';
import { named, runStack } from './support/stack.ts';

/** sha256 of the script stacks were deployed with while it was written inside proxy.ts. */
const DEPLOYED_SHA256 = 'c8fd7ba4c133f9e1a347b186cf12eef7da65af49032351de626ba07fdf2d94a8';

describe('the switch script', () => {
  it('renders byte for byte as deployed stacks hold it', () => {
    expect(createHash('sha256').update(SWITCH_SCRIPT).digest('hex')).toBe(DEPLOYED_SHA256);
    expect(SWITCH_SCRIPT.split('\n').slice(0, 4)).toEqual([
      'set -eu',
      `docker exec -i "$NGINX_CONTAINER" sh -c '`,
      '  set -eu',
      '  f=/etc/nginx/chatbot-upstream.conf',
    ]);
  });

  it('is what the switch command runs', async () => {
    const result = await runStack('dev');
    expect(named(result, 'proxy-switch').inputs['create']).toBe(SWITCH_SCRIPT);
  });

  it('refuses what would break out of the quoted script, and names it needs no value for', () => {
    expect(() => renderSwitchScript("echo 'quoted'\n")).toThrow(/single quote/);
    expect(() => renderSwitchScript('curl @NO_SUCH_VALUE@\n')).toThrow(/@NO_SUCH_VALUE@/);
    expect(renderSwitchScript('#!/bin/sh\n# a comment\n\necho @UPSTREAM_FILE@\n')).toBe(
      `set -eu\ndocker exec -i "$NGINX_CONTAINER" sh -c '\n  echo /etc/nginx/chatbot-upstream.conf\n'`,
    );
  });
});
