/**
 * What an {@link Updater} hands out: the events it emits and what a check resolves to.
 */
import type { Release } from '../check/release.js';
import type { DownloadProgress } from '../download/downloader.js';
import type { OtaError } from '../errors.js';
import type { SlotName } from '../install/slots.js';
import type { RebootRequest } from '../platform/interfaces.js';
import type { Decision } from './decide.js';

/** Events of an {@link Updater}, with their arguments. */
export interface UpdaterEvents {
  /** A check started. */
  checking: [];
  /** The server offers a newer version than the one running. */
  'update-available': [info: { version: string; current: string; size: number }];
  /** The running version is the latest (or newer). */
  'up-to-date': [info: { version: string; latest: string }];
  /** Download progress, throttled. */
  'download-progress': [progress: DownloadProgress];
  /** The downloaded image matched the published SHA-256. */
  verified: [info: { version: string; sha256: string; slot: SlotName }];
  /** The image is installed in the inactive slot and will boot on trial. */
  installed: [info: { version: string; slot: SlotName }];
  /** The device is about to reboot. */
  rebooting: [request: RebootRequest];
  /** A check, update or boot step failed. */
  error: [error: OtaError];
  /**
   * The server waits for the user's consent before this update (hawkBit's confirmationBase):
   * answer with {@link Updater.consent} (or `ota consent yes|no`). `denied` is true when the user
   * already said no to this action.
   */
  'consent-required': [info: { version: string; current: string; action: string; denied: boolean }];
}

/** What {@link Updater.checkForUpdates} resolves to. It never rejects. */
export type CheckResult =
  | { status: 'up-to-date'; version: string; latest: string }
  | {
      status: 'no-firmware';
      version: string;
      /** The address that answered 404 (the device's own manifest), when the protocol has one. */
      url?: string;
    }
  | { status: 'updated'; version: string; from: string; slot: SlotName; rebooting: true }
  | {
      status: 'deferred';
      /** The running version. */
      version: string;
      /** The version downloaded and verified, waiting to be installed. */
      latest: string;
      /** Why it waits: an inhibitor, the maintenance window, the server, or the user's consent. */
      reason: string;
    }
  | {
      status: 'failed';
      error: OtaError;
      /** What failed and what happens next, in one sentence for people. */
      message: string;
    };

/** What {@link Updater.check} finds: what a check would do now, with nothing downloaded or written. */
export interface CheckPreview {
  /** The running version. */
  version: string;
  /** The release the server offers; null when it has none (HTTP 404). */
  offered: Release | null;
  /** What would be done with it; null when nothing is offered. */
  decision: Decision | null;
  /** The address of the device's own manifest, when the protocol has one. */
  url?: string;
}

/** Options of {@link Updater.checkForUpdates}. */
export interface CheckOptions {
  /** Install even outside the maintenance window (an operator's "update now"). */
  force?: boolean;
}
