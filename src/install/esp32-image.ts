/**
 * Validation of an ESP32 application image (PlatformIO/Arduino/ESP-IDF firmware.bin) before the
 * switch: header magic, segment layout, checksum, and the appended SHA-256 when present. The
 * image is read from the slot in pieces; nothing is held whole.
 */
import { otaError } from '../errors.js';
import type { Hasher } from '../platform/interfaces.js';

/** First byte of every ESP32 application image. */
export const ESP32_MAGIC = 0xe9;
const HEADER = 24;
const SEGMENT_HEADER = 8;
const MAX_SEGMENTS = 16;
const CHECKSUM_SEED = 0xef;

function hex2(n: number): string {
  return '0x' + (n < 16 ? '0' : '') + n.toString(16);
}

function invalid(why: string): never {
  throw otaError('IMAGE_INVALID', 'verify', 'not a valid ESP32 image: ' + why);
}

function u32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

function toHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += (b[i]! < 16 ? '0' : '') + b[i]!.toString(16);
  return s;
}

/** Reads `length` bytes at `offset` of the image. */
export type ReadImage = (offset: number, length: number) => Promise<Uint8Array>;

/**
 * Checks an ESP32 image of `size` bytes; throws `IMAGE_INVALID` saying what is wrong.
 * `hasher` is used for the appended SHA-256; `pieceSize` bounds each read.
 */
export async function validateEsp32Image(read: ReadImage, size: number, hasher: Hasher, pieceSize: number): Promise<void> {
  const readAll = async (offset: number, length: number, each: (data: Uint8Array) => void) => {
    for (let done = 0; done < length; ) {
      const data = await read(offset + done, Math.min(pieceSize, length - done));
      if (data.length === 0) invalid('could not read byte ' + (offset + done));
      each(data);
      done += data.length;
    }
  };
  if (size < HEADER + 1) invalid('it is ' + size + ' bytes, shorter than the 24-byte header');
  const header = await read(0, HEADER);
  if (header[0] !== ESP32_MAGIC) invalid('first byte is ' + hex2(header[0]!) + ', not the magic 0xe9');
  const segments = header[1]!;
  if (segments < 1 || segments > MAX_SEGMENTS) invalid('header announces ' + segments + ' segments (1 to 16 allowed)');
  let pos = HEADER;
  let checksum = CHECKSUM_SEED;
  for (let i = 0; i < segments; i++) {
    if (pos + SEGMENT_HEADER > size) invalid('segment ' + i + ' header at byte ' + pos + ' runs past the end of the ' + size + '-byte image');
    const length = u32(await read(pos, SEGMENT_HEADER), 4);
    pos += SEGMENT_HEADER;
    if (pos + length > size) invalid('segment ' + i + ' (' + length + ' bytes at byte ' + pos + ') runs past the end of the ' + size + '-byte image');
    await readAll(pos, length, (data) => {
      for (let k = 0; k < data.length; k++) checksum ^= data[k]!;
    });
    pos += length;
  }
  // The checksum byte is the last byte of a 16-byte block.
  const at = pos + 15 - (pos % 16);
  if (at >= size) invalid('it ends before its checksum byte (byte ' + at + ')');
  const stored = (await read(at, 1))[0]!;
  if (stored !== checksum) invalid('checksum byte is ' + hex2(stored) + ' but the segments give ' + hex2(checksum));
  let end = at + 1;
  if (header[23] === 1) {
    if (end + 32 > size) invalid('it ends before its appended SHA-256');
    await readAll(0, end, (data) => hasher.update(data));
    const actual = hasher.digest();
    const appended = toHex(await read(end, 32));
    if (actual !== appended) invalid('appended SHA-256 is ' + appended + ' but the image hashes to ' + actual);
    end += 32;
  }
  if (end !== size) invalid(size - end + ' bytes follow the end of the image (byte ' + end + ')');
}
