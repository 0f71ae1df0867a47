// `npm run down`: removes the dev stack's containers, network and web volumes. The data
// volumes (Postgres, Redis, uploads) stay unless you delete them yourself.
import { pulumiCli } from './pulumi-cli.ts';

try {
  const cli = await pulumiCli('dev');
  await cli.run(['stack', 'select', '--create', 'dev']);
  await cli.run(['destroy', '--stack', 'dev', '--yes']);
  console.log('\nThe dev stack is down. Its data volumes are kept; to delete them too:');
  console.log('  docker volume rm chatbot-dev-pgdata chatbot-dev-redisdata chatbot-dev-uploads');
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
}
