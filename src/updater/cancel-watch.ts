/**
 * The server withdrawing a release while it downloads (hawkBit's cancel): the protocol watches,
 * and the download then stops as for `Updater.stop`, the check ending `STOPPED`.
 */
import type { Protocol } from '../check/protocol.js';
import { otaError } from '../errors.js';
import type { StopSignal } from '../platform/interfaces.js';
import { stopController } from './stop-controller.js';

/** Runs `work` (a download) while `protocol` watches for a cancel; `signal` stops it too. */
export async function watched<T>(protocol: Protocol, signal: StopSignal, work: (signal: StopSignal) => Promise<T>): Promise<T> {
  if (!protocol.watch) return work(signal);
  const inner = stopController();
  let why: string | null = null;
  const relay = () => inner.stop();
  signal.addEventListener('abort', relay);
  const unwatch = protocol.watch((reason) => {
    why = reason;
    inner.stop();
  });
  try {
    return await work(inner.signal);
  } catch (e) {
    throw why !== null ? otaError('STOPPED', 'download', why) : e;
  } finally {
    unwatch();
    signal.removeEventListener('abort', relay);
  }
}
