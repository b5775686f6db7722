/** The size of an image whose server does not announce it (IoTaaP's API). */
import { otaError } from '../errors.js';
import type { Transport } from '../platform/interfaces.js';
import { parseContentRange } from './http-headers.js';
import { parseWhole } from '../text/numbers.js';

/**
 * Asks for the image's first byte and reads the total from Content-Range (or Content-Length when
 * Range is ignored).
 */
export async function probeSize(transport: Transport, url: string, headers: Record<string, string>, timeoutMs: number): Promise<number> {
  let size = -1;
  await transport.stream(
    { url, headers: Object.assign({ Range: 'bytes=0-0' }, headers), timeoutMs },
    {
      onResponse(status, h) {
        if (status === 206) {
          const cr = parseContentRange(h['content-range']);
          if (cr !== null) size = cr.total;
        } else if (status === 200) {
          size = parseWhole(h['content-length'] ?? '');
        } else {
          throw otaError('HTTP_STATUS', 'download', 'image download got HTTP ' + status + ' from ' + url, { status, retryable: status >= 500 || status === 429 });
        }
        return false;
      },
      onData: () => false,
    },
  );
  if (size <= 0) throw otaError('RANGE_INVALID', 'download', 'the server at ' + url + ' does not say how large the image is (no Content-Range or Content-Length)');
  return size;
}
