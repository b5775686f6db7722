/** What every update-server protocol adapter provides to the updater. */
import type { Release } from './release.js';

/** Stages a device reports to its server. */
export type ReportStage = 'downloading' | 'downloaded' | 'installed' | 'confirmed' | 'failed';

/** A status report sent to the server. */
export interface StatusReport {
  stage: ReportStage;
  /** Version the report is about (the release being installed, or the running one). */
  version: string;
  /** Version running before the update. */
  from?: string;
  /** Why it failed, for `failed`; why installing waits, for `downloaded`. */
  reason?: string;
  /** OtaError code, for `failed`. */
  code?: string;
  /** True when a failed trial brought the previous slot back. */
  reverted?: boolean;
}

/** A server protocol adapter. */
export interface Protocol {
  /** The latest release for this device (or its group), or null when the server has none. */
  check(running: { version: string }): Promise<Release | null>;
  /** An offered release is not newer than the running version: servers that track actions close them. */
  declined?(release: Release, runningVersion: string): Promise<void>;
  /** Download progress, for servers that want it (called often; throttle inside). */
  progress?(received: number, total: number): void;
  /**
   * Called while a download runs: watches for the server withdrawing the release (hawkBit's
   * cancel) and then calls `cancelled` with why. Returns the function that stops watching.
   */
  watch?(cancelled: (reason: string) => void): () => void;
  /**
   * Headers the image download from `url` needs: the credentials, only when `url` is on the update
   * server's origin or one of `trusted_origins` (a manifest may name any server).
   */
  downloadHeaders(url: string): Record<string, string>;
  /** Sends a status report. Best effort: rejects only for the caller to log. */
  report(report: StatusReport): Promise<void>;
  /** The address of this device's own manifest, named when it answers 404 (a wrong device_id or ota_domain). */
  checkUrl?: string;
  /** The wait before the next check the server asked for in its last answer (ms), if any. */
  suggestedIntervalMs?(): number | null;
}
