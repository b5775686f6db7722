/**
 * A small answer kept whole through StreamHandlers: its status, headers and body (or the body's
 * first bytes) as text. The transport's small requests and `ota device install`'s look at a URL
 * (is it a manifest or an image?) both read one this way.
 */
import type { StreamHandlers } from '../interfaces.js';

/** What {@link smallBody} gathered, once the exchange settled. */
export interface SmallBody {
  /** To pass to `Transport.stream` or the fixed-buffer reader. */
  handlers: StreamHandlers;
  status: number;
  headers: Record<string, string>;
  /** The bytes kept, as UTF-8. */
  text(): string;
}

/**
 * Keeps at most `limit` bytes of the body. When more arrive, `tooLarge()` is thrown; without it,
 * reading stops once `limit` bytes are kept (the rest is not read).
 */
export function smallBody(limit: number, tooLarge?: () => Error): SmallBody {
  const pieces: Buffer[] = [];
  let size = 0;
  const body: SmallBody = {
    status: 0,
    headers: {},
    handlers: {
      onResponse(status, headers) {
        body.status = status;
        body.headers = headers;
        return true;
      },
      onData(piece) {
        const part = piece.subarray(0, limit - size);
        if (part.length < piece.length && tooLarge) throw tooLarge();
        pieces.push(Buffer.from(part)); // copied: the piece is a view of the transport's reused read buffer
        size += part.length;
        return tooLarge !== undefined || size < limit;
      },
    },
    text: () => Buffer.concat(pieces).toString('utf8'),
  };
  return body;
}
