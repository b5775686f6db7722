/**
 * The release `ota device install FILE|URL` offers to the updater: a manifest (as `ota publish`
 * writes it, signed or not) or a bare image, from a file or a URL. It is handed to the updater as
 * the answer of a one-off protocol, so it takes the updater's own path: the same trust rules
 * (a bare image is an unsigned manifest, refused when public_keys is set), version rules,
 * download, verification, slot and trial boot, and the same failure messages.
 */
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { checkManifest } from '../check/trust.js';
import type { Protocol } from '../check/protocol.js';
import { DEFAULT_CHUNK_SIZE, parseManifest, type Release } from '../check/release.js';
import type { OtaConfig } from '../config/config.js';
import { otaError } from '../errors.js';
import { parseVersion } from '../check/version.js';
import type { Platform, Transport } from '../platform/interfaces.js';
import { smallBody } from '../platform/node/small-body.js';
import { EXIT } from './exit-codes.js';
import { cliError, guard } from './cli-error.js';
import { fsPromisesModule } from '../platform/node/lazy-modules.js';

/** A manifest is small JSON; anything larger, or not an object, is taken as an image. */
const MAX_MANIFEST_BYTES = 64 * 1024;

function isUrl(source: string): boolean {
  return source.indexOf('http://') === 0 || source.indexOf('https://') === 0;
}

function asManifest(text: string): { [key: string]: unknown } | null {
  if (text.length > MAX_MANIFEST_BYTES || text.trimStart().charAt(0) !== '{') return null;
  try {
    return JSON.parse(text) as { [key: string]: unknown };
  } catch {
    return null;
  }
}

/** The directory a local manifest's relative `url` is under: the nearest ancestor that holds it. */
function releaseRoot(manifestPath: string, url: string): string {
  for (let dir = dirname(resolve(manifestPath)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, url))) return dir;
    if (dirname(dir) === dir) return dirname(resolve(manifestPath));
  }
}

/**
 * The base of a served manifest's relative `url`: the server root when the manifest is at its
 * protocol path (`<root>/v1/ota/device/latest/<id>`, as the agent's `ota_domain` is the root),
 * else the manifest's own directory.
 */
function servedBase(source: string): string {
  const api = source.indexOf('/v1/ota/');
  return api > 0 ? source.slice(0, api) : source.slice(0, source.lastIndexOf('/'));
}

/**
 * The status and first bytes of `url`. A server without ranges answers 200 with the whole image:
 * reading stops one byte past the largest manifest and the connection is closed, so an image of
 * any size costs 64 KiB here (the downloader fetches it again on its own path).
 */
async function readHead(url: string, transport: Transport): Promise<{ status: number; text: string }> {
  const head = smallBody(MAX_MANIFEST_BYTES + 1);
  const headers = { Range: 'bytes=0-' + (MAX_MANIFEST_BYTES - 1) };
  await transport.stream(
    { url, method: 'GET', timeoutMs: 15000, headers },
    {
      // An error's body is not read.
      onResponse: (s, h) => head.handlers.onResponse(s, h) && (s === 200 || s === 206),
      onData: head.handlers.onData,
    },
  );
  return { status: head.status, text: head.text() };
}

/** Where the address of the release read from `source` was given, named when its server refuses the connection. */
export function offerAddress(source: string): string {
  return isUrl(source) ? 'the URL given' : "the manifest's url";
}

/** A manifest read from a file or URL (made here for a bare image), and the base of its relative `url`. */
export interface LocalOffer {
  manifest: { [key: string]: unknown };
  base: string;
}

/** Reads `source`: a manifest as it is, or a bare image (`version` names its version) as an unsigned manifest. */
export async function readOffer(source: string, version: string | undefined, transport: Transport): Promise<LocalOffer> {
  let manifest: { [key: string]: unknown } | null;
  let base = '';
  if (isUrl(source)) {
    const res = await readHead(source, transport);
    if (res.status === 404) throw cliError(EXIT.NOT_FOUND, source + ' answered HTTP 404: nothing there');
    if (res.status !== 200 && res.status !== 206) throw otaError('HTTP_STATUS', 'check', source + ' answered HTTP ' + res.status, { status: res.status });
    // A server with ranges (`ota serve`, nginx) answers 206 with the whole of a manifest shorter than the range.
    manifest = asManifest(res.text);
    if (manifest) base = servedBase(source);
  } else {
    // Only the bytes a manifest may have: a bare image can be hundreds of MiB.
    const head = await guard(EXIT.CONFIG, source, async () => {
      const f = await fsPromisesModule().open(source, 'r');
      try {
        const buf = Buffer.alloc(MAX_MANIFEST_BYTES + 1);
        return buf.subarray(0, (await f.read(buf, 0, buf.length, 0)).bytesRead).toString('utf8');
      } finally {
        await f.close();
      }
    });
    manifest = asManifest(head);
    if (manifest && typeof manifest.url === 'string') base = pathToFileURL(releaseRoot(source, manifest.url)).href;
  }
  if (manifest !== null) return { manifest, base };
  if (version === undefined) throw cliError(EXIT.USAGE, source + ' is an image, not a manifest: give its --version');
  if (isUrl(source)) return { manifest: { ver: version, url: source }, base };
  // The release store (and the publisher's crypto, zlib and child_process) loads only for a bare image.
  const { describeImage } = await import('../server/release-store.js');
  const d = await describeImage(source, DEFAULT_CHUNK_SIZE);
  return {
    manifest: { ver: version, size: d.size, sha256: d.sha256, chunk_size: DEFAULT_CHUNK_SIZE, chunk_crc32: d.crcs, url: basename(source) },
    base: pathToFileURL(dirname(resolve(source))).href,
  };
}

/**
 * A protocol whose only answer is `offer`, checked as the native protocol checks a served manifest
 * (signature, expiry, target device), and which reports to no server.
 */
export function oneOffProtocol(offer: LocalOffer, config: OtaConfig, platform: Platform): Protocol {
  return {
    async check(): Promise<Release> {
      const m = offer.manifest;
      checkManifest(m, platform.trust, { device: config.device_id, group: config.group_id }, platform.clock.date());
      if (m.size !== undefined) return parseManifest(m, offer.base);
      // An image URL: size and SHA-256 are learnt while downloading, as with IoTaaP's API.
      const version = parseVersion(String(m.ver));
      if (version === null) throw otaError('VERSION_INVALID', 'check', '--version ' + JSON.stringify(m.ver) + ' is not a semantic version (e.g. 1.0.3)');
      return { version, size: null, sha256: null, chunkSize: DEFAULT_CHUNK_SIZE, chunkCrc32: null, url: String(m.url), overrideRejected: false };
    },
    downloadHeaders: () => ({}),
    report: async () => undefined,
  };
}
