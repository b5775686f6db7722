/**
 * Version comparison: semver, so "1.0.10" is newer than "1.0.9" and a downgrade never looks new.
 * Both builds bundle the regex-free comparator of src/platform/espruino/semver.ts in place of the
 * semver package (tsup.config.ts, scripts/build-espruino.mjs); tests compare the two.
 */
import semverValid from 'semver/functions/valid.js';
import semverGt from 'semver/functions/gt.js';

/** The normalised semver string, or null when `v` is not a semantic version. */
export function parseVersion(v: string): string | null {
  return semverValid(v);
}

/** True when `candidate` is strictly newer than `current` (both valid semver). */
export function isNewer(candidate: string, current: string): boolean {
  return semverGt(candidate, current);
}

/** This agent's version (the package's; a test keeps them equal). */
export const AGENT_VERSION = '0.1.0';
