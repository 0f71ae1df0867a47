// A Slack message about a deploy job, when SLACK_WEBHOOK (an incoming-webhook URL, a masked
// CI/CD variable) is set; nothing otherwise. Runs in the job's after_script, where GitLab sets
// CI_JOB_STATUS. The webhook comes from the environment only (never argv, never the log), and
// a failure to notify never fails the job.
//
//   node ci/notify-slack.ts "Production deploy of v1.2.3"
import { pathToFileURL } from 'node:url';

type Env = Record<string, string | undefined>;

export function slackText(what: string, env: Env): string {
  const status = env['CI_JOB_STATUS'] ?? 'unknown';
  const mark =
    status === 'success' ? ':white_check_mark:' : status === 'canceled' ? ':no_entry_sign:' : ':x:';
  const parts = [`${mark} ${what}: ${status}`];
  const url = env['DEPLOY_URL'] ?? env['CI_ENVIRONMENT_URL'];
  if (url) parts.push(url);
  if (env['CI_COMMIT_SHORT_SHA']) parts.push(`commit ${env['CI_COMMIT_SHORT_SHA']}`);
  if (env['GITLAB_USER_LOGIN']) parts.push(`by ${env['GITLAB_USER_LOGIN']}`);
  if (env['CI_JOB_URL']) parts.push(`<${env['CI_JOB_URL']}|job log>`);
  return parts.join(' · ');
}

/** Posts the message; returns what happened, in words (for the log). */
export async function notify(what: string, env: Env): Promise<string> {
  const webhook = env['SLACK_WEBHOOK'];
  if (webhook === undefined || webhook === '') return 'slack: SLACK_WEBHOOK not set, no message';
  try {
    const res = await fetch(webhook, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: slackText(what, env) }),
      signal: AbortSignal.timeout(10_000),
    });
    return res.ok ? 'slack: message sent' : `slack: the webhook answered ${res.status}`;
  } catch (err) {
    // The URL is the secret: say what failed without it.
    return `slack: could not post (${err instanceof Error ? err.name : 'error'})`;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const what = process.argv.slice(2).join(' ') || 'Deploy';
  void notify(what, process.env).then((line) => process.stdout.write(`${line}\n`));
}
