/**
 * The VCDIFF decoder against real patches made by Debian's xdelta3 (3.0.x): several sizes and
 * window settings, copies from the source and from the target, application headers on and off;
 * and against what a bad link or a wrong base does to a patch. What xdelta3 writes was read in
 * jmacd/xdelta, xdelta3/xdelta3-decode.h (window layout, VCD_ADLER32) and xdelta3.c (indicator bits).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { adler32, vcdiffDecoder, type SourceReader, type VcdiffPosition } from '../src/delta/vcdiff.js';
import { isOtaError } from '../src/errors.js';
import { image, tempDir } from './helpers/fixtures.js';

/** Makes a patch from `base` to `next` with xdelta3 and the given options. */
function xdelta(base: Buffer, next: Buffer, options: string[] = []): Buffer {
  const dir = tempDir();
  writeFileSync(join(dir, 'base'), base);
  writeFileSync(join(dir, 'next'), next);
  execFileSync('xdelta3', ['-e', '-f', '-S', 'none', ...options, '-s', join(dir, 'base'), join(dir, 'next'), join(dir, 'patch')]);
  return readFileSync(join(dir, 'patch'));
}

interface Decoded {
  data: Buffer;
  size: number;
  windows: VcdiffPosition[];
}

/** A source reader like file slots: it reads into the decoder's block buffer (reused for every block). */
function filling(base: Buffer): SourceReader {
  return async (offset, length, into) => {
    const n = base.copy(into, 0, offset, offset + length);
    return into.subarray(0, n);
  };
}

/** Decodes `patch` against `base`, pushed in pieces of `piece` bytes. */
async function decode(base: Buffer, patch: Buffer, piece = 65536, maxWindow = 1 << 24, resumeAt?: VcdiffPosition, source = filling(base)): Promise<Decoded> {
  const parts: Buffer[] = [];
  const windows: VcdiffPosition[] = [];
  let expectedOffset = resumeAt ? resumeAt.target : 0;
  const decoder = vcdiffDecoder({
    source,
    sourceSize: base.length,
    sourceBlock: 65536,
    maxWindow,
    resumeAt,
    async onWindow(target, offset, after) {
      expect(offset).toBe(expectedOffset);
      expectedOffset += target.length;
      parts.push(Buffer.from(target));
      windows.push(after);
    },
  });
  for (let i = 0; i < patch.length; i += piece) await decoder.push(patch.subarray(i, i + piece));
  const size = decoder.finish();
  return { data: Buffer.concat(parts), size, windows };
}

async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(isOtaError(e) && e.code).toBe('DELTA_INVALID');
    return (e as Error).message;
  }
  throw new Error('the patch was accepted');
}

/** `base` with `edit` applied: a few KB changed in the middle, an insertion and a deletion. */
function edited(base: Buffer): Buffer {
  const mid = base.length >> 1;
  const changed = Buffer.from(base);
  image(Math.min(3000, base.length >> 2), 7).copy(changed, mid);
  const cut = base.length >> 3;
  return Buffer.concat([changed.subarray(0, cut), Buffer.from('inserted '.repeat(40)), changed.subarray(cut, 6 * cut), changed.subarray(6 * cut + 500)]);
}

describe('VCDIFF decoder on xdelta3 patches', () => {
  const base = image(3 * 1024 * 1024, 11);
  const next = edited(base);

  for (const options of [[], ['-W', '16384'], ['-B', '524288', '-W', '65536'], ['-9'], ['-A='], ['-n']]) {
    it('rebuilds a 3 MiB image from its base with xdelta3 ' + (options.join(' ') || 'defaults'), async () => {
      const patch = xdelta(base, next, options);
      expect(patch.length).toBeLessThan(next.length / 100);
      const out = await decode(base, patch);
      expect(out.size).toBe(next.length);
      expect(out.data.equals(next)).toBe(true);
    });
  }

  it('keeps source blocks a reader returns as its own arrays instead of filling the buffer it is given', async () => {
    const patch = xdelta(base, next, ['-W', '65536']);
    const out = await decode(base, patch, 65536, 1 << 24, undefined, async (offset, length) => base.subarray(offset, offset + length));
    expect(out.data.equals(next)).toBe(true);
  });

  it('decodes whatever the pieces the patch arrives in', async () => {
    const small = image(70000, 3);
    const changed = edited(small);
    const patch = xdelta(small, changed, ['-W', '16384']);
    for (const piece of [1, 7, 4096]) expect((await decode(small, patch, piece)).data.equals(changed)).toBe(true);
  });

  it('handles copies within the target (repetitions), an empty base and an empty result', async () => {
    const repeated = Buffer.concat([Buffer.from('abc'.repeat(100000)), image(1000, 5), Buffer.alloc(50000)]);
    expect((await decode(Buffer.alloc(0), xdelta(Buffer.alloc(0), repeated))).data.equals(repeated)).toBe(true);
    expect((await decode(base, xdelta(base, repeated))).data.equals(repeated)).toBe(true);
    const empty = await decode(repeated, xdelta(repeated, Buffer.alloc(0)));
    expect(empty.size).toBe(0);
  });

  it('rebuilds a completely different image (no copies at all)', async () => {
    const other = image(200000, 77);
    expect((await decode(base, xdelta(base, other))).data.equals(other)).toBe(true);
  });

  it('restarts at any window boundary with the same result', async () => {
    const patch = xdelta(base, next, ['-W', '65536']);
    const full = await decode(base, patch);
    expect(full.windows.length).toBeGreaterThan(40);
    const at = full.windows[20]!;
    const rest = await decode(base, patch.subarray(at.patch), 5000, 1 << 24, at);
    expect(rest.size).toBe(next.length);
    expect(Buffer.concat([next.subarray(0, at.target), rest.data]).equals(next)).toBe(true);
  });

  it('refuses a patch with secondary compression (xdelta3 without -S none), naming the option', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'base'), base);
    writeFileSync(join(dir, 'next'), next);
    execFileSync('xdelta3', ['-e', '-f', '-s', join(dir, 'base'), join(dir, 'next'), join(dir, 'patch')]);
    expect(await failure(decode(base, readFileSync(join(dir, 'patch'))))).toContain('-S none');
  });

  it('refuses windows larger than its memory bound', async () => {
    expect(await failure(decode(base, xdelta(base, next), 65536, 1024 * 1024))).toContain('larger than the 1048576 allowed');
  });

  it('detects a wrong base: changed bytes (Adler-32) or a shorter image', async () => {
    const wrong = Buffer.from(base);
    wrong[1000]! ^= 1;
    expect(await failure(decode(wrong, xdelta(base, next)))).toContain('Adler-32');
    expect(await failure(decode(base.subarray(0, 1000000), xdelta(base, next)))).toContain('made from another base');
  });

  it('turns every single corrupted byte into DELTA_INVALID or the right image, never a crash', async () => {
    const small = image(20000, 21);
    const changed = edited(small);
    const patch = xdelta(small, changed, ['-A=']);
    for (let i = 0; i < patch.length; i++) {
      for (const flip of [1, 0x80]) {
        const bad = Buffer.from(patch);
        bad[i]! ^= flip;
        try {
          const out = await decode(small, bad);
          // A flip can only go unnoticed where it changes nothing (e.g. the text of a header).
          expect(out.data.equals(changed), 'byte ' + i).toBe(true);
        } catch (e) {
          expect(isOtaError(e) && e.code, 'byte ' + i + ': ' + String(e)).toBe('DELTA_INVALID');
        }
      }
    }
  });

  it('turns a patch truncated anywhere into DELTA_INVALID or a short result at a window boundary', async () => {
    const small = image(60000, 31);
    const changed = edited(small);
    const patch = xdelta(small, changed, ['-W', '16384']);
    for (let cut = 0; cut < patch.length; cut++) {
      try {
        const out = await decode(small, patch.subarray(0, cut), 333);
        expect(out.size).toBeLessThan(changed.length);
        expect(out.data.equals(changed.subarray(0, out.size))).toBe(true);
      } catch (e) {
        expect(isOtaError(e) && e.code, 'cut at ' + cut).toBe('DELTA_INVALID');
      }
    }
  });
});

describe('Adler-32', () => {
  /** zlib's own: a stored (level 0) zlib stream ends with the Adler-32 of its input (RFC 1950). */
  const zlibAdler = (data: Uint8Array) => {
    const z = deflateSync(data, { level: 0 });
    return z.readUInt32BE(z.length - 4);
  };

  it('matches zlib on any length and alignment, and on the largest sums (all bytes 0xff)', () => {
    const data = image(300007, 9);
    for (const [offset, length] of [[0, 0], [0, 1], [1, 3], [3, 9], [2, 3199], [1, 3200], [2, 5553], [0, 100000], [5, 300000]]) {
      const piece = data.subarray(offset!, offset! + length!);
      expect(adler32(piece), offset + '+' + length).toBe(zlibAdler(piece));
    }
    const ones = Buffer.alloc(1000003, 0xff);
    expect(adler32(ones)).toBe(zlibAdler(ones));
    expect(adler32(ones.subarray(1))).toBe(zlibAdler(ones.subarray(1)));
  });
});
