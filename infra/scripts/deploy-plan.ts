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

/** What `pulumi stack output --json` says (the program's exports); empty before a first deploy. */
export interface DeployedState {
  activeColor?: Color;
  blueImage?: string;
  greenImage?: string;
  imageRef?: string;
  commit?: string;
}

/** Config keys to set (an empty string: back to "the release" / "build this checkout"). */
export type ConfigChanges = Record<string, string>;

function deployed(state: DeployedState): state is Required<DeployedState> {
  return (
    (state.activeColor === 'blue' || state.activeColor === 'green') &&
    typeof state.blueImage === 'string' &&
    typeof state.greenImage === 'string' &&
    typeof state.imageRef === 'string'
  );
}

export interface Release {
  /** A prebuilt image reference; undefined builds the checkout (not in production). */
  image?: string | undefined;
  /** The release's commit; undefined lets the program read the checkout's. */
  commit?: string | undefined;
}

export function planDeploy(state: DeployedState, release: Release, configuredActive: Color): ConfigChanges {
  const common = { image: release.image ?? '', commit: release.commit ?? '' };
  if (!deployed(state)) {
    // First deploy: both colors run the release; traffic goes to the configured color.
    return { ...common, blueImage: '', greenImage: '', activeColor: configuredActive };
  }
  const active = state.activeColor;
  const idle = other(active);
  return {
    ...common,
    [`${active}Image`]: active === 'blue' ? state.blueImage : state.greenImage,
    [`${idle}Image`]: '',
    activeColor: idle,
  };
}

export function planRollback(state: DeployedState): ConfigChanges {
  if (!deployed(state)) throw new Error('nothing to roll back to: the stack has not been deployed yet');
  return {
    image: state.imageRef,
    commit: state.commit ?? '',
    blueImage: state.blueImage,
    greenImage: state.greenImage,
    activeColor: other(state.activeColor),
  };
}

export type Promotion =
  | { image: string; commit: string }
  /** Staging does not run the commit now: its image must be found by its tag in the registry. */
  | { lookupTag: string; commit: string };

/**
 * Which image production deploys: exactly one staging ran. An explicit digest must be one of
 * staging's; a commit resolves to staging's image when staging runs it, else to the image the
 * staging build pushed with that commit as its tag (only staging builds and pushes).
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
    const ran = [staging.imageRef, staging.blueImage, staging.greenImage];
    if (!ran.includes(wanted.image)) {
      throw new Error(
        `refused: ${wanted.image} is not an image staging runs (${ran.filter(Boolean).join(', ') || 'none'})`,
      );
    }
    const commit = wanted.commit ?? (wanted.image === staging.imageRef ? (staging.commit ?? '') : '');
    return { image: wanted.image, commit };
  }
  if (wanted.commit === undefined) {
    throw new Error('production needs --commit <sha> (or --image <repository@sha256:...>): it never builds');
  }
  if (
    staging.commit === wanted.commit &&
    staging.imageRef !== undefined &&
    DIGEST_REF.test(staging.imageRef)
  ) {
    return { image: staging.imageRef, commit: wanted.commit };
  }
  if (repository === '') throw new Error('production needs imageRepository to find the commit’s image');
  return { lookupTag: `${repository}:${wanted.commit}`, commit: wanted.commit };
}
