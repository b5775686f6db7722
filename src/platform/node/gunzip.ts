/**
 * Streaming gzip decompression on Node's zlib, for images published with `--compress gzip`.
 * Input is fed in small slices so that what one call returns stays bounded (deflate expands at
 * most about 1032:1), whatever the ratio the publisher's data reached.
 */
import { zlibModule } from './lazy-modules.js';
import { otaError } from '../../errors.js';
import type { Inflater } from '../interfaces.js';

/** Input bytes fed to zlib at a time: at most about 8 MiB of output per slice, the bound of a delta window. */
const SLICE = 8 * 1024;

/** A gzip decompressor: each call returns the output the input so far completes. */
export function nodeGunzip(): Inflater {
  const z = zlibModule().createGunzip();
  let out: Uint8Array[] = [];
  let failure: Error | null = null;
  let ended = false;
  z.on('data', (d: Buffer) => out.push(d));
  z.on('error', (e) => (failure = e));
  z.on('end', () => (ended = true));
  const take = (): Uint8Array[] => {
    if (failure !== null) throw otaError('IMAGE_INVALID', 'download', 'the gzip-compressed image is corrupt (' + failure.message + ')');
    const got = out;
    out = [];
    return got;
  };
  // Settles on the write's callback or on an error, after which zlib calls no callback.
  const settled = (start: (done: () => void) => void) =>
    new Promise<void>((resolve) => {
      if (failure !== null || ended) return resolve();
      const done = () => {
        z.off('error', done);
        resolve();
      };
      z.once('error', done);
      start(done);
    });
  const write = (data: Uint8Array) => settled((done) => z.write(data, () => done()));
  return {
    async push(data, onOutput) {
      for (let at = 0; at < data.length; at += SLICE) {
        await write(data.subarray(at, at + SLICE));
        for (const piece of take()) await onOutput(piece);
      }
    },
    async end(onOutput) {
      await settled((done) => {
        z.once('end', done);
        z.end();
      });
      for (const piece of take()) await onOutput(piece);
      if (!ended) throw otaError('IMAGE_INVALID', 'download', 'the gzip-compressed image is incomplete');
    },
  };
}
