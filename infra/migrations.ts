// Database migrations: the release image's `migrate`, run once per release on the stack's
// Docker host, inside the stack network, as the database owner (MIGRATION_DATABASE_URL); it
// also provisions the service's login role from DATABASE_URL. The URLs reach `docker run`
// through the command's environment (`--env NAME` names them, never their values), and
// nothing the command prints is logged. App containers depend on this resource, so a failed migration
// fails the update before anything is replaced or switched: the running color keeps serving.
import * as command from '@pulumi/command';
import * as pulumi from '@pulumi/pulumi';
import { dockerCommandEnv } from './docker-defaults.ts';

export interface MigrationsArgs {
  /** The release image. */
  image: pulumi.Input<string>;
  network: pulumi.Input<string>;
  /** The service's login role, which `migrate` provisions. Secret. */
  databaseUrl: pulumi.Input<string>;
  /** The owner, which runs the migrations. Secret. */
  migrationDatabaseUrl: pulumi.Input<string>;
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
  'docker run --name "$MIGRATE_CONTAINER" --network "$NETWORK" --env DATABASE_URL --env MIGRATION_DATABASE_URL "$IMAGE" migrate',
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
              MIGRATION_DATABASE_URL: args.migrationDatabaseUrl,
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
