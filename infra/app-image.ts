// The release image: built from the root Dockerfile with BuildKit (tagged with the commit,
// pushed when the stack pushes), or, when the stack names a prebuilt image (production
// always does, pinned by digest), no build at all: the image is pulled onto the stack's
// Docker host with the registry credentials.
import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import type { StackConfig } from './config.ts';

export interface AppImageArgs {
  release: StackConfig['release'];
  /** The Dockerfile's NODE_IMAGE build argument. */
  nodeImage: string;
  /** The repository root, relative to the program's working directory. */
  context: string;
  /** The commit's time, for the "created" label (the same for every build of a commit). */
  created: string;
}

export class AppImage extends pulumi.ComponentResource {
  /** The image reference containers and commands run: repository@sha256:digest when pushed
   * or pulled, the local image id (sha256:...) for a local build, else as configured. */
  public readonly ref: pulumi.Output<string>;
  /** repository:commit for a build, the configured reference otherwise. */
  public readonly name: pulumi.Output<string>;
  /** The resource that makes the image exist on the Docker host, if any. */
  public readonly resource: docker.Image | docker.RemoteImage | undefined;

  constructor(name: string, args: AppImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super('chatbot:infra:AppImage', name, {}, opts);
    const { release } = args;

    if (release.image !== undefined) {
      if (release.registry !== undefined) {
        const pulled = new docker.RemoteImage(
          `${name}-pull`,
          { name: release.image, keepLocally: true },
          { parent: this },
        );
        this.resource = pulled;
        this.ref = pulled.name;
      } else {
        this.resource = undefined;
        this.ref = pulumi.output(release.image);
      }
      this.name = pulumi.output(release.image);
    } else {
      const image = new docker.Image(
        `${name}-build`,
        {
          imageName: `${release.repository}:${release.commit}`,
          build: {
            context: args.context,
            builderVersion: 'BuilderBuildKit',
            args: {
              NODE_IMAGE: args.nodeImage,
              VERSION: release.version,
              REVISION: release.commit,
              SOURCE: release.sourceUrl,
              CREATED: args.created,
            },
            ...(release.platform !== undefined ? { platform: release.platform } : {}),
          },
          skipPush: !release.push,
          ...(release.push && release.registry !== undefined
            ? {
                registry: {
                  server: release.registry.server,
                  username: release.registry.username,
                  password: release.registry.password,
                },
              }
            : {}),
        },
        { parent: this },
      );
      this.resource = image;
      this.ref = image.repoDigest;
      this.name = image.imageName;
    }
    this.registerOutputs({ ref: this.ref, name: this.name });
  }
}
