/**
 * The one reading of an HTTP `Range` header (RFC 9110 §14), for what answers byte ranges: `ota
 * serve` and the agent's `file://` URLs (file-transport.ts). One span only; a list of spans is
 * answered with the whole body, as the RFC allows.
 */

/** A parsed `Range` header: the inclusive span to send, or 'unsatisfiable', or null to send all. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | null {
  if (header === undefined || !header.startsWith('bytes=') || header.includes(',')) return null;
  const [a, b] = header.slice(6).trim().split('-') as [string, string | undefined];
  const digits = (s: string) => /^\d+$/.test(s);
  if (b === undefined || (a !== '' && !digits(a)) || (b !== '' && !digits(b)) || (a === '' && b === '')) return null;
  if (a === '') {
    const n = Number(b);
    if (n === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}
