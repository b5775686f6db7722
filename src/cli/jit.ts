/**
 * V8's compilers beyond its interpreter, Sparkplug and TurboFan, in the `ota` process. They are
 * off from the start (lean-heap.ts): the first function each compiles pages in the node binary's
 * compiler code, plus their zones and the code they make: TurboFan ~5.5 MiB and Sparkplug ~0.5 MiB
 * of an update's peak RSS (`npm run bench`; README, Performance). An update's work is native
 * (socket reads, CRC-32, SHA-256, writes); its JavaScript, a few calls per 64 KiB chunk, costs ~5 %
 * more CPU in the interpreter (~0.1 s per GiB). They come back on for JavaScript that works byte by byte
 * or serves for long: a delta's decode (4.5× the CPU without TurboFan) and `ota serve`. V8 reads
 * these flags at each tiering decision; `setFlagsFromString` is Node's way to change them at run
 * time (no re-exec, no flags for the user to give).
 */
import { setFlagsFromString } from 'node:v8';
import type { Platform } from '../platform/interfaces.js';

/** Turns Sparkplug and TurboFan on or off for the rest of the process. */
export function compilers(on: boolean): void {
  setFlagsFromString(on ? '--sparkplug' : '--no-sparkplug');
  setFlagsFromString(on ? '--turbofan' : '--no-turbofan');
}

/**
 * `transfers` that turn the compilers on when they decode: a staged patch (or gzip image) is read
 * back only to be decoded into the slot.
 */
export function compiledDecoding(transfers: Platform['transfers']): Platform['transfers'] {
  if (!transfers) return transfers;
  const staging = transfers.staging;
  let on = false;
  const read: typeof staging.read = (slot, offset, length, into) => {
    // Once: the flags stay set for the rest of the process, and reads come per 64 KiB.
    if (!on) compilers((on = true));
    return staging.read(slot, offset, length, into);
  };
  return Object.assign({}, transfers, { staging: Object.assign({}, staging, { read }) });
}
