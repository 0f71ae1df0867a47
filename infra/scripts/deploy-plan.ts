// What a deploy, a rollback or a promotion changes in a stack's configuration, computed from
// what the stack last deployed (its outputs). Pure: the deploy script runs the Pulumi CLI.
//
// The program's model (Pulumi.yaml): `image` is the release (migrations run it; empty builds
// this checkout), `blueImage` / `greenImage` say what each color runs (empty: the release),
// `activeColor` gets the traffic.
//
// - deploy: the idle color gets the new release, the active color is pinned to what it runs,
//   and the colors flip. Only the idle color's containers are replaced (and waited for);
//   then nginx switches.
// - rollback: both colors and the release are pinned to what they run and the colors flip.
//   No input of any container or of the migrations changes: only the switch runs.
import { DIGEST_REF, otherColor as other, type Color } from '../config.ts';

export type { Color };

/** What the stack runs (empty before its first switch). */
export interface DeployedState {
  activeColor?: Color;
  /** Undefined when the color's containers do not all run the same image. */
  blueImage?: string;
  greenImage?: string;
  /** The release last migrated. */
  imageRef?: string;
  commit?: string;
  /** Docker names of each color's app containers. */
  containers?: Record<Color, string[]>;
}

/** A resource of `pulumi stack export` (deployment.resources). */
export interface ExportedResource {
  urn: string;
  type: string;
  inputs?: Record<string, unknown>;
  delete?: boolean;
}

/**
 * What the stack runs, from the state Pulumi recorded for its resources (`pulumi stack
 * export`): the switch command's upstream says which color nginx serves (a switch that failed
 * is not recorded), the app containers say which image each color runs, and the migrations
 * command which release was last migrated. Stack outputs are not trusted for this: an update
 * that fails may leave them behind or empty.
 */
export function deployedStateFromExport(exported: {
  deployment?: { resources?: ExportedResource[] | null };
}): DeployedState {
  const resources = (exported.deployment?.resources ?? []).filter((r) => r.delete !== true);
  const byName = (name: string) => resources.find((r) => r.urn.endsWith(`::${name}`));
  const upstream = byName('proxy-switch')?.inputs?.['stdin'];
  const active = /map \$host \$chatbot_color \{ default (blue|green); \}/.exec(String(upstream ?? ''))?.[1];
  if (active !== 'blue' && active !== 'green') return {};

  const containers: Record<Color, string[]> = { blue: [], green: [] };
  const images: Record<Color, Set<string>> = { blue: new Set(), green: new Set() };
  for (const r of resources) {
    const color = /::app-(blue|green)-\d+$/.exec(r.urn)?.[1] as Color | undefined;
    if (r.type !== 'docker:index/container:Container' || color === undefined) continue;
    containers[color].push(String(r.inputs?.['name']));
    images[color].add(String(r.inputs?.['image']));
  }
  const only = (set: Set<string>) => (set.size === 1 ? [...set][0] : undefined);
  const triggers = byName('migrations-migrate')?.inputs?.['triggers'];
  const release = Array.isArray(triggers) && typeof triggers[0] === 'string' ? triggers[0] : undefined;
  const blue = only(images.blue);
  const green = only(images.green);
  return {
    activeColor: active,
    ...(blue !== undefined ? { blueImage: blue } : {}),
    ...(green !== undefined ? { greenImage: green } : {}),
    ...(release !== undefined ? { imageRef: release } : {}),
    containers,
  };
}

/** Config keys to set (an empty string: back to "the release" / "build this checkout"). */
export type ConfigChanges = Record<string, string>;

const imageOf = (state: DeployedState, color: Color) =>
  color === 'blue' ? state.blueImage : state.greenImage;

export interface Release {
  /** A prebuilt image reference; undefined builds the checkout (not in production). */
  image?: string | undefined;
  /** The release's commit; undefined lets the program read the checkout's. */
  commit?: string | undefined;
}

export function planDeploy(state: DeployedState, release: Release, configuredActive: Color): ConfigChanges {
  const common = { image: release.image ?? '', commit: release.commit ?? '' };
  if (state.activeColor === undefined) {
    // First deploy (nothing switched yet): both colors run the release.
    return { ...common, blueImage: '', greenImage: '', activeColor: configuredActive };
  }
  const active = state.activeColor;
  const idle = other(active);
  const running = imageOf(state, active);
  if (running === undefined) {
    throw new Error(
      `refused: the ${active} color serves traffic but its containers do not all run one image`,
    );
  }
  return { ...common, [`${active}Image`]: running, [`${idle}Image`]: '', activeColor: idle };
}

export function planRollback(state: DeployedState): ConfigChanges {
  if (state.activeColor === undefined)
    throw new Error('nothing to roll back to: the stack has not been deployed yet');
  const back = other(state.activeColor);
  if (state.blueImage === undefined || state.greenImage === undefined || state.imageRef === undefined) {
    throw new Error(
      `refused: the ${back} color does not run one complete release (a deploy failed?); deploy instead`,
    );
  }
  return {
    image: state.imageRef,
    commit: state.commit ?? '',
    blueImage: state.blueImage,
    greenImage: state.greenImage,
    activeColor: back,
  };
}

export type Promotion =
  | { image: string; commit: string }
  /** The image the staging build pushed with the commit as its tag (only staging pushes). */
  | { lookupTag: string; commit: string };

/**
 * Which image production deploys: one staging built. A commit resolves to the image staging
 * pushed under that tag (looked up in the registry); an explicit digest must be one a color of
 * staging runs. Production never builds.
 */
export function planPromotion(
  staging: DeployedState,
  wanted: { image?: string | undefined; commit?: string | undefined },
  repository: string,
): Promotion {
  if (wanted.image !== undefined) {
    if (!DIGEST_REF.test(wanted.image)) {
      throw new Error(
        `production deploys images pinned by digest (repository@sha256:...), not "${wanted.image}"`,
      );
    }
    const ran = [staging.blueImage, staging.greenImage].filter((i): i is string => i !== undefined);
    if (!ran.includes(wanted.image)) {
      throw new Error(`refused: ${wanted.image} is not an image staging runs (${ran.join(', ') || 'none'})`);
    }
    return { image: wanted.image, commit: wanted.commit ?? '' };
  }
  if (wanted.commit === undefined) {
    throw new Error('production needs --commit <sha> (or --image <repository@sha256:...>): it never builds');
  }
  if (!/^[0-9A-Za-z._-]{1,128}$/.test(wanted.commit)) throw new Error(`"${wanted.commit}" is not a commit`);
  if (repository === '') throw new Error('production needs imageRepository to find the commit’s image');
  return { lookupTag: `${repository}:${wanted.commit}`, commit: wanted.commit };
}
