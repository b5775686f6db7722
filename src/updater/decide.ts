/**
 * What the updater does with a release the server offers, decided in one pure function from the
 * facts of the moment. docs/decisions.md has the table of cases; test/decide.test.ts a test per row.
 */
import { inRollout } from '../check/rollout.js';
import { compareVersions } from '../check/version.js';
import { untilWindow, type Window } from '../schedule/maintenance-window.js';

/** Why installing waits, and for how long (null: until something else changes, e.g. an inhibitor is lifted). */
export interface Hold {
  reason: string;
  waitMs: number | null;
}

/** Everything {@link decide} looks at. */
export interface OfferFacts {
  /** The running version. */
  running: string;
  offered: {
    version: string;
    /** The image's SHA-256: published, or computed once downloaded; null when not known yet. */
    sha256: string | null;
    /** Marked as an explicit downgrade. */
    downgrade: boolean;
    /** A trusted key verified the offer's signature; an unsigned downgrade mark does not count. */
    signed: boolean;
    /** The operator asks to install it even where it failed a trial before. */
    overrideRejected: boolean;
    /** The server says: download now, install later (why). */
    installHold?: string;
    /** Staged rollout: the percentage of the group that takes it. */
    rollout?: number;
  };
  /** This device's id: its bucket decides whether it is in a staged rollout's wave. */
  deviceId: string;
  /** SHA-256 of images that failed their trial on this device. */
  rejected: string[];
  /** The image installed in the other slot and waiting for its trial boot, if any. */
  pending: { version: string; sha256: string } | null;
  allowDowngrade: boolean;
  /** Reasons the application gave for holding installs (`Updater.inhibit`). */
  inhibitors: string[];
  /** The maintenance window, its text for messages, and the minute of the UTC day now. */
  window: { window: Window; text: string; minute: number } | null;
  /** An operator's "update now": the maintenance window does not apply. */
  force: boolean;
}

/** The decision about an offer. */
export type Decision =
  | { kind: 'up-to-date' }
  | { kind: 'downgrade-refused' }
  | { kind: 'not-in-wave' }
  | { kind: 'rejected' }
  | { kind: 'reboot-pending' }
  | { kind: 'install'; downgrade: boolean; hold: Hold | null };

/** Decides what to do with an offered release; see docs/decisions.md. */
export function decide(f: OfferFacts): Decision {
  const o = f.offered;
  // Semver order where both parse; otherwise a different version is an update (rows 20-22).
  const order = compareVersions(o.version, f.running);
  const older = order === 'older';
  const downgrade = older && o.downgrade && o.signed && f.allowDowngrade;
  if (order === 'same' || (older && !downgrade)) return { kind: older ? 'downgrade-refused' : 'up-to-date' };
  if (!inRollout(f.deviceId, o.rollout)) return { kind: 'not-in-wave' };
  if (o.sha256 !== null && f.rejected.indexOf(o.sha256) >= 0 && !o.overrideRejected) return { kind: 'rejected' };
  const p = f.pending;
  if (p !== null && p.version === o.version && (o.sha256 === null || p.sha256 === o.sha256)) return { kind: 'reboot-pending' };
  return { kind: 'install', downgrade, hold: holdFor(f) };
}

function holdFor(f: OfferFacts): Hold | null {
  if (f.offered.installHold) return { reason: f.offered.installHold, waitMs: null };
  if (f.inhibitors.length > 0) return { reason: 'the application is busy (' + f.inhibitors.join(', ') + ')', waitMs: null };
  if (f.window === null || f.force) return null;
  const wait = untilWindow(f.window.window, f.window.minute);
  return wait === 0 ? null : { reason: 'outside the maintenance window ' + f.window.text + ' UTC', waitMs: wait };
}
