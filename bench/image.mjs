// The benches' test image, and the SHA-256 that checks what landed.
import { createCipheriv, createHash } from 'node:crypto';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';

/** A deterministic, incompressible image: the AES-128-CTR keystream of its size. */
export function makeImage(path, mib) {
  const fd = openSync(path, 'w');
  const stream = createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16, mib & 255));
  const zeros = Buffer.alloc(1024 * 1024);
  for (let m = 0; m < mib; m++) writeSync(fd, stream.update(zeros));
  closeSync(fd);
}

/** SHA-256 (hex) of the file at `path`, read 4 MiB at a time. */
export function sha256File(path) {
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
  for (let n; (n = readSync(fd, buf)) > 0; ) h.update(buf.subarray(0, n));
  closeSync(fd);
  return h.digest('hex');
}
