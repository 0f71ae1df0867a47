// The only file that listens: configuration, logger, graceful shutdown on SIGTERM/SIGINT.
import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.ts';
import { loadCommandConfig } from './config.ts';

export async function serve(): Promise<void> {
  const config = loadCommandConfig();
  if (config === undefined) process.exit(1);

  const app = await buildApp(config);

  closeWithGrace({ delay: config.shutdownGraceMs }, async ({ signal, err }) => {
    if (err !== undefined) app.log.error({ err }, 'shutting down after an error');
    else app.log.info({ signal }, 'shutting down: draining requests');
    // Connections whose last response ends during the drain would otherwise idle until
    // keepAliveTimeout: close each as soon as it goes idle.
    const sweep = setInterval(() => app.server.closeIdleConnections(), 100);
    try {
      await app.close();
    } finally {
      clearInterval(sweep);
    }
    app.log.info('shut down cleanly');
  });

  await app.listen({ host: config.apiHost, port: config.apiPort });
}

if (import.meta.main) await serve();
