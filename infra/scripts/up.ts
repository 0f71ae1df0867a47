// `npm run up`: deploys the dev stack on this machine's Docker engine with a local state
// backend (.pulumi-state/) and no account anywhere. The first run deploys both colors; every
// later run builds this checkout into the idle color and switches to it (the same blue/green
// deploy as staging and production). Extra arguments go to the deploy script.
import { main } from './deploy.ts';

main(['deploy', '--stack', 'dev', '--yes', ...process.argv.slice(2)]).then(
  () => {
    console.log('\nThe dev stack is up. A platform operator token for the API:');
    console.log('  npm run -s token -w infra -- --stack dev');
    console.log(
      'Deploy this checkout again (to the idle color) with `npm run up`; remove it with `npm run down`.',
    );
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
