/**
 * A streaming VCDIFF (RFC 3284) decoder for the patches Debian's `xdelta3 -S none` makes.
 *
 * The patch is pushed in pieces as it arrives; each target window is decoded once its whole
 * encoding is buffered, checked, and handed on, so memory is one window's encoding plus one target
 * window (bounded by `maxWindow`) plus two source blocks, never the whole image. Copies from the
 * source (the running slot) are read on demand through a small block cache.
 *
 * What real xdelta3 output holds (read in jmacd/xdelta, xdelta3/xdelta3-decode.h and xdelta3.c):
 * - header indicator bit 2 (VCD_APPHEADER): an application header (file names), skipped here;
 * - header bit 0 (VCD_SECONDARY): secondary compression (lzma by default on Debian), refused here:
 *   patches must be made with `-S none`; bit 1 (VCD_CODETABLE) is refused, as xdelta3 does;
 * - window indicator bit 2 (VCD_ADLER32): a 4-byte big-endian Adler-32 of the target window after
 *   the three section lengths, checked here;
 * - VCD_SOURCE windows only (xdelta3 never encodes VCD_TARGET), with the RFC's default code table
 *   and address caches (near 4, same 3), both reset at each window.
 *
 * Windows are independent, so a decode can restart at any window boundary (`resumeAt`).
 */
import { otaError, type OtaError } from '../errors.js';

/**
 * Reads `length` bytes at `offset` of the source; may return fewer only at its end. The result is
 * a view of `into` (the decoder's own block buffer, reused) or bytes the reader never changes
 * afterwards: the decoder keeps it without a copy.
 */
export type SourceReader = (offset: number, length: number, into: Uint8Array) => Promise<Uint8Array>;

/** Where a decode stands between two windows: bytes of patch consumed and of target produced. */
export interface VcdiffPosition {
  patch: number;
  target: number;
}

/** Options of {@link vcdiffDecoder}. */
export interface VcdiffOptions {
  /** The source (base) image the patch was made against. */
  source: SourceReader;
  sourceSize: number;
  /** Bytes read from the source at a time (two such blocks are cached): the slot's efficient read size. */
  sourceBlock: number;
  /** Largest target window accepted, in bytes: the decoder's memory bound. */
  maxWindow: number;
  /**
   * Receives each decoded window's bytes (valid until the returned promise settles), the target
   * offset they start at, and the position after the window (a resume point).
   */
  onWindow(target: Uint8Array, targetOffset: number, after: VcdiffPosition): Promise<void>;
  /** Continue from a window boundary recorded earlier; the pushed bytes then start at `resumeAt.patch`. */
  resumeAt?: VcdiffPosition;
}

/** A decoder fed with the patch bytes in order. */
export interface VcdiffDecoder {
  /** Decodes every window `data` completes; rejects with `DELTA_INVALID` on a bad patch. */
  push(data: Uint8Array): Promise<void>;
  /** Bytes of target produced so far; throws `DELTA_INVALID` when the patch stopped inside a window or before its header. */
  finish(): number;
}

// Header indicator bits (RFC 3284 4.1; VCD_APPHEADER is xdelta3's, xdelta3.c).
const VCD_SECONDARY = 1;
const VCD_CODETABLE = 2;
const VCD_APPHEADER = 4;
// Window indicator bits (RFC 3284 4.2; VCD_ADLER32 is xdelta3's).
const VCD_SOURCE = 1;
const VCD_TARGET = 2;
const VCD_ADLER32 = 4;
// Instruction types, and the sizes of the default address caches (RFC 3284 5.1, 5.3).
const NOOP = 0;
const ADD = 1;
const RUN = 2;
const COPY = 3;
const NEAR_SIZE = 4;
const SAME_SIZE = 3;
/** Source blocks kept: xdelta3's copies run forward through the source, so two cover a copy across a block boundary. */
const SOURCE_BLOCKS = 2;

/** The RFC 3284 default instruction code table (section 5.6), one entry per opcode. */
interface CodeTable {
  type1: Uint8Array;
  size1: Uint8Array;
  mode1: Uint8Array;
  type2: Uint8Array;
  size2: Uint8Array;
  mode2: Uint8Array;
}

let defaultTable: CodeTable | null = null;

function codeTable(): CodeTable {
  if (defaultTable !== null) return defaultTable;
  const t: CodeTable = {
    type1: new Uint8Array(256),
    size1: new Uint8Array(256),
    mode1: new Uint8Array(256),
    type2: new Uint8Array(256),
    size2: new Uint8Array(256),
    mode2: new Uint8Array(256),
  };
  const one = (i: number, type: number, size: number, mode: number) => {
    t.type1[i] = type;
    t.size1[i] = size;
    t.mode1[i] = mode;
  };
  const two = (i: number, ta: number, sa: number, ma: number, tb: number, sb: number, mb: number) => {
    one(i, ta, sa, ma);
    t.type2[i] = tb;
    t.size2[i] = sb;
    t.mode2[i] = mb;
  };
  let i = 0;
  one(i++, RUN, 0, 0);
  for (let size = 0; size <= 17; size++) one(i++, ADD, size, 0);
  for (let mode = 0; mode < 9; mode++) {
    one(i++, COPY, 0, mode);
    for (let size = 4; size <= 18; size++) one(i++, COPY, size, mode);
  }
  for (let mode = 0; mode < 6; mode++) {
    for (let add = 1; add <= 4; add++) for (let copy = 4; copy <= 6; copy++) two(i++, ADD, add, 0, COPY, copy, mode);
  }
  for (let mode = 6; mode < 9; mode++) for (let add = 1; add <= 4; add++) two(i++, ADD, add, 0, COPY, 4, mode);
  for (let mode = 0; mode < 9; mode++) two(i++, COPY, 4, mode, ADD, 1, 0);
  defaultTable = t;
  return t;
}

function invalid(message: string): OtaError {
  return otaError('DELTA_INVALID', 'install', 'delta patch is invalid: ' + message);
}

/** True where a Uint32Array reads bytes little-endian (every board the project targets). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Adler-32 of `data` (RFC 1950), as xdelta3 puts it in a window. It runs over every byte a patch
 * makes, so the aligned middle is read four bytes at a time (2-3× faster than byte by byte, which
 * took about a quarter of a 99 MB image's decode CPU).
 */
export function adler32(data: Uint8Array): number {
  let a = 1;
  let b = 0;
  let i = 0;
  const n = data.length;
  if (LITTLE_ENDIAN) {
    // Bytes up to a 4-byte boundary, so that a Uint32Array can view the rest.
    for (; i < n && (data.byteOffset + i) % 4 !== 0; i++) {
      a += data[i]!;
      b += a;
    }
    const words = new Uint32Array(data.buffer, data.byteOffset + i, (n - i) >> 2);
    let k = 0;
    while (k < words.length) {
      // 800 words keep a and b below 2^31 (small integers, the fast path) before the modulo.
      const end = Math.min(k + 800, words.length);
      for (; k < end; k++) {
        const w = words[k]!;
        const x0 = w & 255;
        const x1 = (w >>> 8) & 255;
        const x2 = (w >>> 16) & 255;
        const x3 = w >>> 24;
        // Four steps of a += x; b += a at once.
        b += 4 * a + 4 * x0 + 3 * x1 + 2 * x2 + x3;
        a += x0 + x1 + x2 + x3;
      }
      a %= 65521;
      b %= 65521;
    }
    i += words.length * 4;
  }
  while (i < n) {
    // 5552 bytes is the longest run before the sums can overflow 2^53 (zlib uses the same bound for 32 bits).
    const end = Math.min(i + 5552, n);
    for (; i < end; i++) {
      a += data[i]!;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  a %= 65521;
  b %= 65521;
  return b * 65536 + a;
}

/** A cursor over a section of bytes, reading RFC 3284 integers. */
interface Cursor {
  bytes: Uint8Array;
  pos: number;
  end: number;
}

/** Reads a base-128 integer; returns -1 when `c` ends first (more input needed). */
function readInt(c: Cursor, what: string): number {
  let value = 0;
  for (let n = 0; n < 8; n++) {
    if (c.pos >= c.end) return -1;
    const b = c.bytes[c.pos++]!;
    value = value * 128 + (b & 127);
    if (b < 128) {
      if (value > 9007199254740991) throw invalid(what + ' is too large');
      return value;
    }
  }
  throw invalid(what + ' is longer than 8 bytes');
}

/** Reads an integer that must be inside its section. */
function sectionInt(c: Cursor, what: string): number {
  const v = readInt(c, what);
  if (v < 0) throw invalid(what + ' runs past the end of its section');
  return v;
}

/** Creates a decoder that writes the target through `options.onWindow`. */
export function vcdiffDecoder(options: VcdiffOptions): VcdiffDecoder {
  return new StreamDecoder(options);
}

/** A window's header (RFC 3284 4.2 and 4.3): where its source segment is, and its three sections. */
interface WindowHeader {
  /** Source segment: the window's COPY addresses below `copyLength` are `copyOffset + address` in the source. */
  copyLength: number;
  copyOffset: number;
  targetLength: number;
  /** Adler-32 of the target window, -1 when the window carries none. */
  checksum: number;
  data: Cursor;
  inst: Cursor;
  addr: Cursor;
}

/**
 * The decoder's state across pushes (the unparsed patch bytes, the block cache) and, while a window
 * is decoded, that window's: the sections, the target being written and the address caches. The
 * window state lives in fields rather than being passed along, so the per-instruction steps take
 * no arguments beyond the instruction's own and allocate nothing.
 */
class StreamDecoder implements VcdiffDecoder {
  private readonly o: VcdiffOptions;
  private readonly table = codeTable();
  /** Longest window encoding accepted: sections can exceed the target only by their varints. */
  private readonly maxEncoding: number;
  /** Patch bytes received and not yet decoded are `buf[start..end)`; `patchAt` is the patch offset of `buf[start]`. */
  private buf = new Uint8Array(0);
  private start = 0;
  private end = 0;
  private patchAt: number;
  private targetAt: number;
  private headerDone: boolean;
  /** Reused between windows: grown to the largest window seen, never shrunk. */
  private target = new Uint8Array(0);
  /** Cached source blocks: `data` as the reader returned it, `buffer` the decoder's own, read into again when the block is evicted. */
  private readonly blocks: { at: number; data: Uint8Array; buffer: Uint8Array }[] = [];

  // The window being decoded (set by `window`, read by the instruction steps).
  private w: WindowHeader | null = null;
  private out = new Uint8Array(0);
  private pos = 0;
  private readonly near = [0, 0, 0, 0];
  private nextNear = 0;
  private readonly same: number[] = [];

  constructor(options: VcdiffOptions) {
    this.o = options;
    this.maxEncoding = 4 * options.maxWindow + 4096;
    this.patchAt = options.resumeAt ? options.resumeAt.patch : 0;
    this.targetAt = options.resumeAt ? options.resumeAt.target : 0;
    // A resumed decode starts at a window boundary: the file header was read by the earlier one.
    this.headerDone = options.resumeAt !== undefined;
  }

  async push(data: Uint8Array): Promise<void> {
    this.append(data);
    if (!this.headerDone && !this.header()) return;
    while (await this.window()) {
      // each pass decodes one complete window
    }
  }

  finish(): number {
    if (!this.headerDone) throw invalid('it ends inside its header (' + (this.patchAt + this.end - this.start) + ' bytes)');
    if (this.end > this.start) throw invalid('it ends inside a window (' + (this.end - this.start) + ' bytes left over at patch byte ' + this.patchAt + ')');
    return this.targetAt;
  }

  /** Adds pushed bytes after the unparsed ones, moving those to the front first so that the buffer only grows to one window's encoding. */
  private append(data: Uint8Array): void {
    if (this.end + data.length > this.buf.length) {
      const keep = this.end - this.start;
      const grown = keep + data.length > this.buf.length ? new Uint8Array(Math.max(keep + data.length, this.buf.length * 2)) : this.buf;
      grown.set(this.buf.subarray(this.start, this.end), 0);
      this.buf = grown;
      this.start = 0;
      this.end = keep;
    }
    this.buf.set(data, this.end);
    this.end += data.length;
  }

  private consume(to: number): void {
    this.patchAt += to - this.start;
    this.start = to;
  }

  /** Parses the file header (RFC 3284 4.1); false when more bytes are needed. */
  private header(): boolean {
    const buf = this.buf;
    const start = this.start;
    const c: Cursor = { bytes: buf, pos: start, end: this.end };
    if (this.end - start < 5) return false;
    if (buf[start] !== 0xd6 || buf[start + 1] !== 0xc3 || buf[start + 2] !== 0xc4) throw invalid('it does not start with the VCDIFF magic bytes');
    if (buf[start + 3] !== 0) throw invalid('VCDIFF version ' + buf[start + 3] + ' is not supported');
    const indicator = buf[start + 4]!;
    if (indicator > 7) throw invalid('unknown header indicator bits ' + indicator);
    if (indicator & VCD_SECONDARY) throw invalid('it uses secondary compression; make it with `xdelta3 -S none`');
    if (indicator & VCD_CODETABLE) throw invalid('it carries its own code table, which xdelta3 no longer supports either');
    c.pos = start + 5;
    if (indicator & VCD_APPHEADER) {
      const length = readInt(c, 'application header length');
      if (length < 0 || c.pos + length > this.end) return false;
      if (length > 65536) throw invalid('application header of ' + length + ' bytes');
      c.pos += length;
    }
    this.consume(c.pos);
    this.headerDone = true;
    return true;
  }

  /**
   * Parses the next window's header once its whole encoding is buffered; null until then. The
   * lengths before the encoding are checked as soon as they are read, so a bad patch is refused
   * before the decoder buffers up to its claimed length.
   */
  private windowHeader(): WindowHeader | null {
    const buf = this.buf;
    const patchAt = this.patchAt;
    const c: Cursor = { bytes: buf, pos: this.start, end: this.end };
    if (c.pos >= this.end) return null;
    const indicator = buf[c.pos++]!;
    if (indicator > 7) throw invalid('unknown window indicator bits ' + indicator + ' at patch byte ' + patchAt);
    if (indicator & VCD_TARGET) throw invalid('window at patch byte ' + patchAt + ' copies from the target (VCD_TARGET), which xdelta3 never writes');
    let copyLength = 0;
    let copyOffset = 0;
    if (indicator & VCD_SOURCE) {
      copyLength = readInt(c, 'source segment length');
      if (copyLength < 0) return null;
      copyOffset = readInt(c, 'source segment offset');
      if (copyOffset < 0) return null;
      if (copyOffset + copyLength > this.o.sourceSize) {
        throw invalid('it copies source bytes up to ' + (copyOffset + copyLength) + ' but the base image has ' + this.o.sourceSize + ' (made from another base?)');
      }
    }
    const encoding = readInt(c, 'delta encoding length');
    if (encoding < 0) return null;
    if (encoding > this.maxEncoding) throw invalid('window at patch byte ' + patchAt + ' has a ' + encoding + '-byte encoding, over the limit for ' + this.o.maxWindow + '-byte windows');
    if (c.pos + encoding > this.end) return null;
    const windowEnd = c.pos + encoding;
    c.end = windowEnd;
    const targetLength = sectionInt(c, 'target window length');
    if (targetLength > this.o.maxWindow) throw invalid('target window of ' + targetLength + ' bytes is larger than the ' + this.o.maxWindow + ' allowed');
    if (c.pos >= c.end) throw invalid('window ends before its delta indicator');
    const deltaIndicator = buf[c.pos++];
    if (deltaIndicator !== 0) throw invalid('window sections are compressed (delta indicator ' + deltaIndicator + '); make the patch with `xdelta3 -S none`');
    const dataLength = sectionInt(c, 'data section length');
    const instLength = sectionInt(c, 'instruction section length');
    const addrLength = sectionInt(c, 'address section length');
    let checksum = -1;
    if (indicator & VCD_ADLER32) {
      if (c.pos + 4 > c.end) throw invalid('window ends inside its checksum');
      checksum = ((buf[c.pos]! * 256 + buf[c.pos + 1]!) * 256 + buf[c.pos + 2]!) * 256 + buf[c.pos + 3]!;
      c.pos += 4;
    }
    if (c.pos + dataLength + instLength + addrLength !== windowEnd) throw invalid('section lengths do not add up to the window encoding length at patch byte ' + patchAt);
    const data: Cursor = { bytes: buf, pos: c.pos, end: c.pos + dataLength };
    const inst: Cursor = { bytes: buf, pos: data.end, end: data.end + instLength };
    const addr: Cursor = { bytes: buf, pos: inst.end, end: windowEnd };
    return { copyLength, copyOffset, targetLength, checksum, data, inst, addr };
  }

  /** Decodes one window, checks it and hands it on; false when its encoding is not all buffered yet. */
  private async window(): Promise<boolean> {
    const w = this.windowHeader();
    if (w === null) return false;
    this.w = w;
    if (this.target.length < w.targetLength) this.target = new Uint8Array(w.targetLength);
    this.out = this.target.subarray(0, w.targetLength);
    this.pos = 0;
    // The address caches start empty in every window (RFC 3284 5.1): windows decode independently.
    this.nextNear = 0;
    for (let i = 0; i < NEAR_SIZE; i++) this.near[i] = 0;
    for (let i = 0; i < SAME_SIZE * 256; i++) this.same[i] = 0;
    await this.instructions();
    const out = this.out;
    if (this.pos !== w.targetLength) throw invalid('window decodes to ' + this.pos + ' bytes instead of ' + w.targetLength);
    if (w.data.pos !== w.data.end || w.addr.pos !== w.addr.end) throw invalid('window at patch byte ' + this.patchAt + ' has unused data or addresses');
    if (w.checksum >= 0 && adler32(out) !== w.checksum) {
      throw invalid('window at target byte ' + this.targetAt + ' fails its Adler-32 check: the patch is corrupt or was made from another base');
    }
    const targetOffset = this.targetAt;
    this.consume(w.addr.end);
    this.targetAt += w.targetLength;
    await this.o.onWindow(out, targetOffset, { patch: this.patchAt, target: this.targetAt });
    return true;
  }

  /** Runs the window's instruction section: each opcode is one or two instructions of the code table. */
  private async instructions(): Promise<void> {
    const table = this.table;
    const inst = this.w!.inst;
    const buf = this.buf;
    while (inst.pos < inst.end) {
      const op = buf[inst.pos++]!;
      if (table.type1[op] !== NOOP) {
        const pending = this.instruction(table.type1[op]!, table.size1[op]!, table.mode1[op]!);
        if (pending !== null) await pending;
      }
      if (table.type2[op] !== NOOP) {
        const pending = this.instruction(table.type2[op]!, table.size2[op]!, table.mode2[op]!);
        if (pending !== null) await pending;
      }
    }
  }

  /** Runs one instruction; a promise only when it must wait for a source read (see `sourceBytes`). */
  private instruction(type: number, size: number, mode: number): Promise<void> | null {
    const w = this.w!;
    // Size 0 in the table: the size follows in the instruction section.
    if (size === 0) size = sectionInt(w.inst, 'instruction size');
    if (this.pos + size > w.targetLength) throw invalid('an instruction writes past the end of its ' + w.targetLength + '-byte window');
    let pending: Promise<void> | null = null;
    if (type === ADD) this.add(size);
    else if (type === RUN) this.run(size);
    else pending = this.copy(size, mode);
    this.pos += size;
    return pending;
  }

  /** ADD: the next `size` bytes of the data section. */
  private add(size: number): void {
    const data = this.w!.data;
    if (data.pos + size > data.end) throw invalid('an ADD reads past the data section');
    this.out.set(this.buf.subarray(data.pos, data.pos + size), this.pos);
    data.pos += size;
  }

  /** RUN: one byte of the data section, `size` times. */
  private run(size: number): void {
    const data = this.w!.data;
    if (data.pos >= data.end) throw invalid('a RUN reads past the data section');
    this.out.fill(this.buf[data.pos++]!, this.pos, this.pos + size);
  }

  /** COPY: `size` bytes from the source segment or from earlier in this target window. */
  private copy(size: number, mode: number): Promise<void> | null {
    const w = this.w!;
    const here = w.copyLength + this.pos;
    const a = this.address(mode);
    if (a < 0 || a >= here) throw invalid('a COPY refers to address ' + a + ', not yet decoded');
    this.near[this.nextNear] = a;
    this.nextNear = (this.nextNear + 1) % NEAR_SIZE;
    this.same[a % (SAME_SIZE * 256)] = a;
    if (a < w.copyLength) {
      if (a + size > w.copyLength) throw invalid('a COPY runs past the end of the source segment');
      return this.sourceBytes(this.out, this.pos, w.copyOffset + a, size);
    }
    // Byte by byte: a copy from the target may overlap what it writes (a repeating pattern).
    const out = this.out;
    for (let from = a - w.copyLength, to = this.pos, k = 0; k < size; k++) out[to + k] = out[from + k]!;
    return null;
  }

  /** Decodes a COPY address by its mode (RFC 3284 5.3): self, here, near cache, or same cache. */
  private address(mode: number): number {
    const addr = this.w!.addr;
    if (mode === 0) return sectionInt(addr, 'address');
    if (mode === 1) return this.w!.copyLength + this.pos - sectionInt(addr, 'address');
    if (mode < 2 + NEAR_SIZE) return this.near[mode - 2]! + sectionInt(addr, 'address');
    if (addr.pos >= addr.end) throw invalid('address runs past the end of its section');
    return this.same[(mode - 2 - NEAR_SIZE) * 256 + this.buf[addr.pos++]!]!;
  }

  /**
   * Copies `length` source bytes from `from` to `out[at]`. Synchronous (null) while the blocks are
   * cached, which is nearly always: a promise per COPY instruction (thousands per window) costs
   * more than the copy; a promise only when a block must be read.
   */
  private sourceBytes(out: Uint8Array, at: number, from: number, length: number): Promise<void> | null {
    const blockSize = this.o.sourceBlock;
    while (length > 0) {
      const blockAt = from - (from % blockSize);
      let block: Uint8Array | null = null;
      for (let i = 0; i < this.blocks.length; i++) if (this.blocks[i]!.at === blockAt) block = this.blocks[i]!.data;
      if (block === null) {
        const a = at;
        const f = from;
        const n = length;
        return this.load(from).then(() => this.sourceBytes(out, a, f, n) || undefined);
      }
      const take = Math.min(length, blockAt + block.length - from);
      out.set(block.subarray(from - blockAt, from - blockAt + take), at);
      at += take;
      from += take;
      length -= take;
    }
    return null;
  }

  /** Reads the source block holding byte `from` into the cache, into the buffer of the block it evicts. */
  private async load(from: number): Promise<void> {
    const o = this.o;
    const blockAt = from - (from % o.sourceBlock);
    const want = Math.min(o.sourceBlock, o.sourceSize - blockAt);
    const buffer = this.blocks.length === SOURCE_BLOCKS ? this.blocks.shift()!.buffer : new Uint8Array(Math.min(o.sourceBlock, o.sourceSize));
    const data = await o.source(blockAt, want, buffer);
    if (data.length !== want) throw otaError('SLOT_IO', 'install', 'the running slot returned ' + data.length + ' bytes at ' + blockAt + ' instead of ' + want);
    this.blocks.push({ at: blockAt, data, buffer });
  }
}
