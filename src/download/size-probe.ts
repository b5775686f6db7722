/** The size of an image whose server does not announce it (IoTaaP's API). */
import { otaError } from '../errors.js';
import type { Transport } from '../platform/interfaces.js';
import { parseContentRange } from './http-headers.js';
import { parseWhole } from '../text/numbers.js';

/**
 * Asks with HEAD, which brings no body: a GET to a server that ignores Range answers with the
 * whole image, pushed at the agent only to be thrown away. Where HEAD gives no length, asks for
 * the image's first byte and reads the total from Content-Range (or Content-Length when Range is
 * ignored).
 */
export async function probeSize(transport: Transport, url: string, headers: Record<string, string>, timeoutMs: number): Promise<number> {
  const head = await transport.request({ url, method: 'HEAD', headers, timeoutMs });
  let size = head.status === 200 ? parseWhole(head.headers['content-length'] ?? '') : -1;
  if (size > 0) return size;
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
