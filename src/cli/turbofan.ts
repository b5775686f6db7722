/**
 * TurboFan, V8's optimizing compiler, in the `ota` process. It is off from the start
 * (lean-heap.ts): its first optimization pages in ~3.6 MiB of the node binary's compiler code plus
 * its zones, ~5.5 MiB of an update's 54 MiB peak RSS (`npm run bench`), while an update's work is
 * native (socket reads, CRC-32, SHA-256, writes) and its JavaScript, a few calls per 64 KiB chunk,
 * runs in Sparkplug's code. It comes back on for JavaScript that works byte by byte or serves for
 * long: a delta's decode (4.5× the CPU without it) and `ota serve`. V8 reads the flag at each
 * tiering decision; `setFlagsFromString` is Node's runtime way to change it (no re-exec, no flags
 * for the user to give).
 */
import { setFlagsFromString } from 'node:v8';
import type { Platform } from '../platform/interfaces.js';

/** Turns TurboFan on or off for the rest of the process. */
export function turbofan(on: boolean): void {
  setFlagsFromString(on ? '--turbofan' : '--no-turbofan');
}

/**
 * `transfers` that turn TurboFan on when they decode: a staged patch (or gzip image) is read back
 * only to be decoded into the slot.
 */
export function optimizedDecoding(transfers: Platform['transfers']): Platform['transfers'] {
  if (!transfers) return transfers;
  const staging = transfers.staging;
  const read: typeof staging.read = (slot, offset, length, into) => {
    turbofan(true);
    return staging.read(slot, offset, length, into);
  };
  return Object.assign({}, transfers, { staging: Object.assign({}, staging, { read }) });
}
