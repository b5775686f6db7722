// The benches' test image.
import { createCipheriv } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';

/** A deterministic, incompressible image: the AES-128-CTR keystream of its size. */
export function makeImage(path, mib) {
  const fd = openSync(path, 'w');
  const stream = createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16, mib & 255));
  const zeros = Buffer.alloc(1024 * 1024);
  for (let m = 0; m < mib; m++) writeSync(fd, stream.update(zeros));
  closeSync(fd);
}
