// The image's entry point: no argument (or `serve`) serves; `worker` runs knowledge-base jobs
// only; `migrate`; `token ...`.
import { migrateCommand } from './migrate.ts';
import { tokenCommand } from './token.ts';

const [command = 'serve', ...rest] = process.argv.slice(2);

switch (command) {
  case 'serve': {
    const { serve } = await import('./server.ts');
    await serve();
    break;
  }
  case 'worker': {
    const { workerCommand } = await import('./worker.ts');
    process.exitCode = await workerCommand();
    break;
  }
  case 'migrate':
    process.exitCode = await migrateCommand();
    break;
  case 'token':
    process.exitCode = await tokenCommand(rest);
    break;
  default:
    process.stderr.write(`unknown command "${command}": use serve, worker, migrate or token\n`);
    process.exitCode = 2;
}
