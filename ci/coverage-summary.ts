// One line coverage figure over the workspaces' cobertura reports, printed the way vitest's
// text-summary prints its own ("Lines        : 83.25% ( 1234/1482 )"), so that the pipeline's
// `coverage:` regex, which takes the last match in the log, reads the total.
//
//   node ci/coverage-summary.ts service/coverage/cobertura-coverage.xml infra/coverage/...
//
// A report that does not exist (a workspace without tests yet) is named and skipped.
import { existsSync, readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

export interface LineCounts {
  covered: number;
  valid: number;
}

/** The lines-covered / lines-valid totals on a cobertura report's root element. */
export function coberturaLines(xml: string): LineCounts {
  const root = /<coverage\b([^>]*)>/.exec(xml)?.[1];
  if (root === undefined) throw new Error('not a cobertura report: no <coverage> element');
  const attr = (name: string): number => {
    const value = new RegExp(`\\b${name}="(\\d+)"`).exec(root)?.[1];
    if (value === undefined) throw new Error(`cobertura report without ${name}`);
    return Number(value);
  };
  return { covered: attr('lines-covered'), valid: attr('lines-valid') };
}

export function summaryLine({ covered, valid }: LineCounts): string {
  const pct = valid === 0 ? 100 : Math.floor((covered / valid) * 10_000) / 100;
  return `Lines        : ${pct.toFixed(2)}% ( ${covered}/${valid} )`;
}

export function summarize(paths: string[]): string[] {
  const out: string[] = [];
  const total: LineCounts = { covered: 0, valid: 0 };
  for (const path of paths) {
    if (!existsSync(path)) {
      out.push(`coverage: ${path} not found, skipped`);
      continue;
    }
    const counts = coberturaLines(readFileSync(path, 'utf8'));
    total.covered += counts.covered;
    total.valid += counts.valid;
    out.push(`coverage: ${path}: ${counts.covered}/${counts.valid} lines`);
  }
  if (total.valid === 0 && out.every((l) => l.endsWith('skipped'))) {
    throw new Error('no coverage report found');
  }
  out.push('All workspaces', summaryLine(total));
  return out;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    process.stdout.write(`${summarize(process.argv.slice(2)).join('\n')}\n`);
  } catch (err) {
    process.stderr.write(`coverage-summary: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
