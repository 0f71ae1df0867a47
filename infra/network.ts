// One private Docker network for the stack: containers find each other by name and alias,
// and only nginx publishes ports. With orchestrator swarm it is an overlay network across the
// nodes, attachable so that the migrations' one-off container (docker run) joins it too.
import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';

export interface NetworkArgs {
  /** Docker name of the network. */
  name: pulumi.Input<string>;
  labels: Record<string, string>;
  /** orchestrator swarm: an overlay network (encrypted between nodes when asked). */
  swarm?: { encrypted: boolean };
}

export class Network extends pulumi.ComponentResource {
  public readonly name: pulumi.Output<string>;
  public readonly network: docker.Network;

  constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super('chatbot:infra:Network', name, {}, opts);
    this.network = new docker.Network(
      `${name}-network`,
      {
        name: args.name,
        ...(args.swarm === undefined
          ? { driver: 'bridge' }
          : {
              driver: 'overlay',
              attachable: true,
              ...(args.swarm.encrypted ? { options: { encrypted: 'true' } } : {}),
            }),
        labels: Object.entries(args.labels).map(([label, value]) => ({ label, value })),
      },
      { parent: this },
    );
    this.name = this.network.name;
    this.registerOutputs({ name: this.name });
  }
}
