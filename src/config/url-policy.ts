/**
 * Where a URL points, for the two decisions the core makes before any request: may it be fetched
 * over plain HTTP, and may the device's credentials go there. Espruino has no URL parser, so this
 * reads the authority by hand, and conservatively: whatever it is not sure of (non-ASCII or
 * percent-encoded hosts, numeric IPv4 shorthands, IPv6 literals other than [::1], backslashes,
 * control characters) is "unknown",
 * which is never local and never the update server. On Node every hop is checked again with the
 * URL parser (src/platform/node/url-guard.ts); test/fuzz-shaped.test.ts checks this reader against it.
 */

/** Scheme, host (lower case; IPv6 in brackets) and port (defaults filled in) of a URL. */
export interface Authority {
  scheme: 'http' | 'https';
  host: string;
  port: number;
}

const DEFAULT_PORT = { http: 80, https: 443 };

function isHostChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 46;
}

/** The authority of an absolute http(s) URL, or null when it is not one this reader is sure of. */
export function parseAuthority(url: string): Authority | null {
  const colon = url.indexOf('://');
  const scheme = url.slice(0, colon).toLowerCase();
  if (colon < 0 || (scheme !== 'http' && scheme !== 'https')) return null;
  let end = colon + 3;
  while (end < url.length) {
    const c = url.charCodeAt(end);
    if (c <= 32 || c === 127 || c === 92) return null; // controls, spaces and "\" are rewritten by URL parsers
    if (c === 47 || c === 63 || c === 35) break; // "/", "?", "#" end the authority
    end++;
  }
  const authority = url.slice(colon + 3, end);
  // Credentials come before the last "@": what follows is the host, whatever precedes it says.
  let hostPort = authority.slice(authority.lastIndexOf('@') + 1).toLowerCase();
  let host: string;
  if (hostPort.charAt(0) === '[') {
    // IPv6 literals have many spellings of one address; only this machine's usual one is known.
    if (hostPort.slice(0, 5) !== '[::1]') return null;
    host = '[::1]';
    hostPort = hostPort.slice(5);
  } else {
    const c = hostPort.indexOf(':');
    host = c < 0 ? hostPort : hostPort.slice(0, c);
    hostPort = c < 0 ? '' : hostPort.slice(c);
    if (host === '' || host.charAt(0) === '.' || host.indexOf('..') >= 0) return null;
    for (let i = 0; i < host.length; i++) if (!isHostChar(host.charCodeAt(i))) return null;
    // URL parsers read a host whose last label is a number as an IPv4 address ("127.1",
    // "0x7f.1", "2130706433"): only the plain dotted-quad form is taken here.
    const labels = host.split('.');
    const last = labels[labels.length - 1] === '' ? labels[labels.length - 2]! : labels[labels.length - 1]!;
    if (isNumberLike(last) && !isDottedQuad(host)) return null;
  }
  let port = DEFAULT_PORT[scheme];
  if (hostPort !== '') {
    if (hostPort.charAt(0) !== ':') return null;
    const digits = hostPort.slice(1);
    if (digits !== '') {
      if (digits.length > 5 || !allDigits(digits)) return null;
      port = parseInt(digits, 10);
      if (port > 65535) return null;
    }
  }
  return { scheme, host, port };
}

function allDigits(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return s.length > 0;
}

/** A label URL parsers take as a number: decimal, or hex with 0x. */
function isNumberLike(label: string): boolean {
  return allDigits(label) || label.slice(0, 2) === '0x';
}

function isDottedQuad(host: string): boolean {
  const parts = host.split('.');
  if (parts.length !== 4) return false;
  for (const p of parts) if (!allDigits(p) || p.length > 3 || (p.length > 1 && p.charAt(0) === '0') || parseInt(p, 10) > 255) return false;
  return true;
}

/** The origin of a URL as URL parsers write it ("https://host", "http://host:8080"), or null when unknown. */
export function originOf(url: string): string | null {
  const a = parseAuthority(url);
  return a === null ? null : a.scheme + '://' + a.host + (a.port === DEFAULT_PORT[a.scheme] ? '' : ':' + a.port);
}

/** True for this machine: localhost, 127.0.0.0/8 in dotted-quad form, [::1]. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || (isDottedQuad(host) && host.slice(0, 4) === '127.');
}

/**
 * True when the device's credentials may go with a request to `url`: it is on the origin of the
 * update server (`serverUrl`) or on one of `trusted` (origins as {@link originOf} writes them).
 */
export function mayCarryCredentials(url: string, serverUrl: string, trusted: string[]): boolean {
  const origin = originOf(url);
  return origin !== null && (origin === originOf(serverUrl) || trusted.indexOf(origin) >= 0);
}

/**
 * True when fetching `url` needs `allow_http`: plain HTTP to a machine that is not this one, or
 * an http URL whose host cannot be told for sure.
 */
export function isPlainRemote(url: string): boolean {
  if (url.slice(0, 5).toLowerCase() !== 'http:') return false;
  const a = parseAuthority(url);
  return a === null || !isLoopbackHost(a.host);
}
