/** Words for what the operating system refused, instead of its codes ("ENOENT: no such file…"). */

const WORDS: { [code: string]: string } = {
  ENOENT: 'does not exist',
  EACCES: 'is not accessible to this user (permission denied)',
  EPERM: 'is not accessible to this user (operation not permitted)',
  EROFS: 'is on a read-only file system',
  ENOSPC: 'cannot be written: the disk is full',
  EDQUOT: 'cannot be written: the disk quota is used up',
  EISDIR: 'is a directory where a file was expected',
  ENOTDIR: 'has a part that is not a directory',
  EEXIST: 'already exists',
  ENOTEMPTY: 'is not empty',
  EBUSY: 'is in use by another program',
  EMFILE: 'cannot be opened: too many open files',
  EADDRINUSE: 'is already in use by another program',
  EADDRNOTAVAIL: 'is not an address of this machine',
};

/**
 * Where the address of a connection was given, named when it is refused or its host is unknown:
 * one setting holding a URL (`'ota_domain'`, `'--mqtt'`), or a host setting and a port setting.
 */
export type AddressSetting = string | { host: string; port: string };

/** Network and TLS failures whose words name no setting, as the network stack names them. */
const NETWORK_WORDS: { [code: string]: string } = {
  EAI_AGAIN: 'host name lookup failed for now (DNS unreachable)',
  ETIMEDOUT: 'timed out',
  ECONNABORTED: 'timed out',
  ECONNRESET: 'the connection was reset',
  EPIPE: 'the connection was closed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable (no route: is the network up?)',
  ERR_SOCKET_CONNECTION_TIMEOUT: 'timed out',
  CERT_HAS_EXPIRED: 'the server certificate has expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the server certificate is self-signed (set ca_file to trust it)',
  SELF_SIGNED_CERT_IN_CHAIN: 'the server certificate chain ends in an untrusted CA (set ca_file to trust it)',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the server certificate is for another host name',
};

/**
 * Words for a network or TLS failure code, naming `address` where the host or port may be wrong;
 * a generic sentence for codes not listed, never the code itself; null without a code (the
 * error's own message is then ours to show).
 */
export function networkErrorText(code: string | undefined, address: AddressSetting): string | null {
  if (code === undefined) return null;
  const hostAndPort = typeof address === 'string' ? 'the host and port in ' + address : address.host + ' and ' + address.port;
  if (code === 'ECONNREFUSED') return 'connection refused (is the server running, and are ' + hostAndPort + ' right?)';
  if (code === 'ENOTFOUND') return 'host name not found (check ' + (typeof address === 'string' ? 'the host in ' + address : address.host) + ', and DNS)';
  const words = NETWORK_WORDS[code];
  if (words !== undefined) return words;
  if (code.indexOf('CERT') >= 0 || code.indexOf('UNABLE_TO_') === 0) return 'the server certificate is not trusted (set ca_file to its CA, or fix the certificate)';
  return 'the connection failed';
}

/** Why a connection ended, in words: the network stack's codes said as words, other errors (an MQTT broker's refusal) by their message. */
export function connectionEndText(e: Error | null, address: AddressSetting): string {
  if (e === null) return 'connection closed';
  const code = (e as { code?: unknown }).code;
  return (typeof code === 'string' ? networkErrorText(code, address) : null) ?? e.message;
}

/**
 * When `e` is an operating-system error (it has a `code` such as ENOENT and a `syscall`), says
 * which path or address failed and why, in words; null for other errors.
 */
export function systemErrorText(e: unknown): string | null {
  if (typeof e !== 'object' || e === null) return null;
  const x = e as { code?: unknown; syscall?: unknown; path?: unknown; address?: unknown; port?: unknown };
  if (typeof x.code !== 'string' || typeof x.syscall !== 'string') return null;
  const subject = typeof x.path === 'string' ? x.path : typeof x.address === 'string' ? x.address + (typeof x.port === 'number' ? ':' + x.port : '') : 'a file';
  const words = WORDS[x.code];
  return subject + ' ' + (words ?? 'could not be used (the system refused "' + x.syscall + '")');
}

/** Rethrows an operating-system error as an Error whose message says it in words (the code kept). */
function reword(e: unknown): never {
  const text = systemErrorText(e);
  if (text === null) throw e;
  const worded = new Error(text) as Error & { code?: unknown; cause?: unknown };
  worded.code = (e as { code: unknown }).code;
  worded.cause = e;
  throw worded;
}

function isPlainObject(v: unknown): v is { [key: string]: unknown } {
  return typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
}

/**
 * A copy of a platform part (slots, state store, boot selector) whose methods report operating
 * system refusals in words, so that the updater's messages and the log never carry "EROFS: …".
 * Objects a method returns (a slot writer) are wrapped the same way.
 */
export function worded<T extends object>(part: T): T {
  const out: { [key: string]: unknown } = {};
  const source = part as unknown as { [key: string]: unknown };
  for (const key of Object.keys(source)) {
    const member = source[key];
    if (typeof member !== 'function') {
      out[key] = member;
      continue;
    }
    out[key] = (...args: unknown[]) => {
      let result: unknown;
      try {
        result = (member as (...a: unknown[]) => unknown).apply(part, args);
      } catch (e) {
        reword(e);
      }
      if (result instanceof Promise) return result.then((v: unknown) => (isPlainObject(v) ? worded(v) : v), reword);
      return result;
    };
  }
  return out as T;
}
