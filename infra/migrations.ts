// Database migrations: the release image's `migrate`, run once per release on the stack's
// Docker host, inside the stack network. The database URL reaches `docker run` through the
// command's environment (`--env DATABASE_URL` names it, never its value), and nothing the
// command prints is logged. App containers depend on this resource, so a failed migration
// fails the update before anything is replaced or switched: the running color keeps serving.
import * as command from '@pulumi/command';
import * as pulumi from '@pulumi/pulumi';
import { dockerCommandEnv } from './docker-defaults.ts';

export interface MigrationsArgs {
  /** The release image. */
  image: pulumi.Input<string>;
  network: pulumi.Input<string>;
  /** Secret. */
  databaseUrl: pulumi.Input<string>;
  dockerHost: string | undefined;
  /** Name of the one-off container (kept after a failure, for `docker logs`). */
  containerName: string;
  /** Hash of the migration files (repo.ts migrationsHash). */
  migrationsHash: string;
  /** The database container: its healthcheck passed once it exists. */
  after: pulumi.Input<pulumi.Resource>[];
}

export const MIGRATE_SCRIPT = [
  'set -u',
  'docker rm -f "$MIGRATE_CONTAINER" >/dev/null 2>&1 || true',
  'docker run --name "$MIGRATE_CONTAINER" --network "$NETWORK" --env DATABASE_URL "$IMAGE" migrate',
  'status=$?',
  'if [ "$status" -ne 0 ]; then',
  '  echo "database migrations failed (exit $status); nothing was replaced or switched. Output: docker logs $MIGRATE_CONTAINER" >&2',
  '  exit "$status"',
  'fi',
  'docker rm "$MIGRATE_CONTAINER" >/dev/null',
].join('\n');

export class Migrations extends pulumi.ComponentResource {
  public readonly command: command.local.Command;

  constructor(name: string, args: MigrationsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('chatbot:infra:Migrations', name, {}, opts);
    this.command = new command.local.Command(
      `${name}-migrate`,
      {
        create: MIGRATE_SCRIPT,
        environment: pulumi.secret(
          pulumi.output(
            dockerCommandEnv(args.dockerHost, {
              IMAGE: args.image,
              NETWORK: args.network,
              MIGRATE_CONTAINER: args.containerName,
              DATABASE_URL: args.databaseUrl,
            }),
          ),
        ),
        triggers: [args.image, args.migrationsHash],
        logging: 'none',
      },
      { parent: this, dependsOn: args.after, additionalSecretOutputs: ['stdout', 'stderr'] },
    );
    this.registerOutputs({});
  }
}
