/** Builds ESP32 application images (the firmware.bin layout) for tests. */
import { createHash } from 'node:crypto';

/** An image with the given segment sizes; `hash` appends the SHA-256. */
export function esp32Image(segmentSizes: number[], hash = true, seed = 1): Buffer {
  const header = Buffer.alloc(24);
  header[0] = 0xe9;
  header[1] = segmentSizes.length;
  header[2] = 2;
  header[3] = 0x20;
  header.writeUInt32LE(0x400d1234, 4);
  header[12] = 0; // chip id: ESP32
  header[23] = hash ? 1 : 0;
  const parts: Buffer[] = [header];
  let checksum = 0xef;
  let x = seed;
  segmentSizes.forEach((size, i) => {
    const seg = Buffer.alloc(8 + size);
    seg.writeUInt32LE(0x3f400020 + i * 0x10000, 0);
    seg.writeUInt32LE(size, 4);
    for (let k = 0; k < size; k++) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      seg[8 + k] = x & 0xff;
      checksum ^= seg[8 + k]!;
    }
    parts.push(seg);
  });
  let length = parts.reduce((n, p) => n + p.length, 0);
  const pad = 15 - (length % 16);
  parts.push(Buffer.alloc(pad), Buffer.from([checksum]));
  length += pad + 1;
  const body = Buffer.concat(parts);
  return hash ? Buffer.concat([body, createHash('sha256').update(body).digest()]) : body;
}
