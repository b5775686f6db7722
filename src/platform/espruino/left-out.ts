/**
 * What the Espruino build leaves out, standing in for core modules that only hawkBit's and
 * IoTaaP's adapters reach (the build carries the native protocol only: protocols.ts). A native
 * manifest always gives the size and a SHA-256 and never waits for consent or a cancel, so these
 * are never reached there; if they were, the check fails naming what is missing.
 */
import { otaError } from '../../errors.js';
import type { StopSignal } from '../interfaces.js';

function leftOut(what: string): never {
  throw otaError('MANIFEST_INVALID', 'check', what + ' is not in the Espruino build (native protocol only); nothing was changed');
}

/** Stands in for `download/legacy-digest.ts` (hawkBit's SHA-1 or MD5). */
export function checkDigest(): Promise<string> {
  return Promise.resolve().then(() => leftOut('a release verified by SHA-1 or MD5 only (hawkBit)'));
}

/** Stands in for `updater/consent-wait.ts` (hawkBit's confirmationBase). */
export function awaitingConsent(): never {
  return leftOut('an update waiting for the user\'s consent (hawkBit)');
}

/** Stands in for `download/size-probe.ts` (IoTaaP's API gives no size). */
export function probeSize(): Promise<number> {
  return Promise.resolve().then(() => leftOut('a release of unknown size (IoTaaP)'));
}

/** Stands in for `updater/cancel-watch.ts`: the native protocol has no cancel to watch for. */
export function watched<T>(_protocol: unknown, signal: StopSignal, work: (signal: StopSignal) => Promise<T>): Promise<T> {
  return work(signal);
}
