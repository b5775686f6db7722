/**
 * Who may do what on `ota serve`: the admin token for every change made in the console, and the
 * devices' own tokens (`device_token`, or `group_token` in a group) for what they report.
 * Tokens travel as `Authorization: Bearer …` headers; a header cannot be forged by another site's
 * form or image, as a cookie would be sent.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** Device and group tokens, by id. */
export type TokenTable = { [id: string]: string };

/** The token of an `Authorization: Bearer …` header, or null. */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined || !header.startsWith('Bearer ')) return null;
  const t = header.slice(7).trim();
  return t === '' ? null : t;
}

/** Compares secrets in time that does not depend on where they differ. */
export function sameSecret(a: string, b: string): boolean {
  const h = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(a), h(b));
}

/** A new admin token: 144 random bits, URL-safe. */
export function newAdminToken(): string {
  return randomBytes(18).toString('base64url');
}

/** Reads `--device-tokens`: a JSON object of device or group id to token. */
export function loadTokenTable(file: string): TokenTable {
  const data = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new Error(file + ': expected a JSON object of device or group id to token');
  const table: TokenTable = Object.create(null);
  for (const [id, token] of Object.entries(data as { [key: string]: unknown })) {
    if (typeof token !== 'string' || token === '') throw new Error(file + ': the token of ' + JSON.stringify(id) + ' must be a non-empty string');
    table[id] = token;
  }
  return table;
}

/**
 * Whether a device may report: when its id or its group has a token in the table, the request
 * must carry one of them; a device with neither reports freely (a development fleet).
 */
export function deviceAllowed(table: TokenTable, device: string, group: string, token: string | null): boolean {
  // Own properties only: an id such as "constructor" must not find Object.prototype's.
  const own = Object.prototype.hasOwnProperty.call(table, device) ? table[device] : undefined;
  const shared = group !== '' && Object.prototype.hasOwnProperty.call(table, group) ? table[group] : undefined;
  if (own === undefined && shared === undefined) return true;
  if (token === null) return false;
  return (own !== undefined && sameSecret(own, token)) || (shared !== undefined && sameSecret(shared, token));
}
