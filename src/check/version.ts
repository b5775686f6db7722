/**
 * Version comparison. Semver where both versions parse, so "1.0.10" is newer than "1.0.9" and a
 * downgrade never looks new. Servers that do not speak semver (IoTaaP compares `version !=
 * running`; a hawkBit chunk version is free text such as "2023.05") get IoTaaP's rule: a
 * different version is an update. There is no order then, so no downgrade protection.
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

/** How an offered version relates to the running one: ordered by semver, else only same or different. */
export type VersionOrder = 'newer' | 'same' | 'older' | 'different';

/** Compares an offered version with the running one (see the module comment). */
export function compareVersions(offered: string, running: string): VersionOrder {
  const o = parseVersion(offered);
  const r = parseVersion(running);
  if (o === null || r === null) return offered === running ? 'same' : 'different';
  return isNewer(o, r) ? 'newer' : isNewer(r, o) ? 'older' : 'same';
}

/** This agent's version (the package's; a test keeps them equal). */
export const AGENT_VERSION = '0.1.0';
