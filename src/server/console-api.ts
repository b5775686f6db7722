/**
 * `ota serve --console`: the console's JSON API and live events under /console/api/, beside the
 * page (console-assets.ts). Every request needs the admin token; changes (upload, Flash, rollout)
 * are published into the release directory exactly as `ota publish` does, so devices and any
 * static host see the same files. The console's own state lives in `<dir>/.ota-console/`.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, unlink } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { bearerToken, sameSecret } from './auth.js';
import { serveConsoleAsset } from './console-assets.js';
import { Fleet, FLEET_LIMITS, type DeviceRecord } from './fleet.js';
import { connectFlasher, type Flasher } from './flash.js';
import { isRolloutPercent, isSafeId, manifestPath, publish, readManifest, setRollout, type Audience } from './release-store.js';
import { ReleaseList, type ReleaseEntry } from './release-list.js';
import { DEFAULT_HALT_THRESHOLD, haltReason, rolloutProgress, Rollouts, type Rollout } from './rollouts.js';
import { eventHub } from './sse.js';

/** The console's state directory inside the release directory (never served: `ota serve` refuses dot paths). */
export const CONSOLE_DIR = '.ota-console';

/** Default largest upload: 64 MiB. */
export const DEFAULT_MAX_UPLOAD = 64 * 1024 * 1024;

/** Most open live-event streams. */
const MAX_EVENT_STREAMS = 32;
const MAX_NOTES = 500;
const MAX_JSON_BODY = 4096;

/** Options of {@link startConsole}. */
export interface ConsoleOptions {
  dir: string;
  adminToken: string;
  /** `mqtt[s]://user:pass@host:port`: the broker for Flash. */
  mqtt?: string;
  /** Ed25519 private key (PEM file) that signs uploaded releases and rollout changes. */
  key?: string;
  /** Largest upload in bytes. */
  maxUpload?: number;
  log: (line: string) => void;
}

/** The console as `ota serve` uses it. */
export interface Console {
  /** Answers a request under /console; false for other paths. */
  handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean>;
  /** A device asked for its release. */
  checkIn(device: string, group: string, version: string): void;
  /** A device's status report (already authorised). */
  report(device: string, body: { [key: string]: unknown }): void;
  /** A device's image download reached `received` of `total` bytes. */
  progress(device: string, received: number, total: number): void;
  close(): Promise<void>;
}


class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<{ [key: string]: unknown }> {
  let text = '';
  for await (const piece of req as AsyncIterable<Buffer>) {
    text += piece.toString('utf8');
    if (text.length > MAX_JSON_BODY) throw new HttpError(413, 'request body too large');
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'expected a JSON object');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HttpError(400, 'expected a JSON object');
  return v as { [key: string]: unknown };
}

/** `{device}` or `{group}` with a safe id, from a request's fields. */
function audienceOf(fields: { [key: string]: unknown }): Audience {
  const device = fields.device;
  const group = fields.group;
  if ((typeof device === 'string') === (typeof group === 'string')) throw new HttpError(400, 'give exactly one of "device" or "group"');
  const id = (typeof device === 'string' ? device : group) as string;
  if (!isSafeId(id)) throw new HttpError(400, 'id ' + JSON.stringify(id.slice(0, 100)) + ' may hold only letters, digits, "-", "_" and "." (not first)');
  return typeof device === 'string' ? { device } : { group: id };
}

/** Streams a request body into `file`, refusing more than `limit` bytes. */
async function receive(req: IncomingMessage, file: string, limit: number): Promise<number> {
  let size = 0;
  const counter = new Transform({
    transform(piece: Buffer, _enc, done) {
      size += piece.length;
      done(size > limit ? new HttpError(413, 'the upload exceeds the limit of ' + limit + ' bytes') : null, piece);
    },
  });
  await pipeline(req, counter, createWriteStream(file));
  return size;
}

/** Starts the console for a release directory. */
export async function startConsole(o: ConsoleOptions): Promise<Console> {
  const state = join(o.dir, CONSOLE_DIR);
  const maxUpload = o.maxUpload ?? DEFAULT_MAX_UPLOAD;
  const events = eventHub(MAX_EVENT_STREAMS);
  const rollouts = new Rollouts(join(state, 'rollouts.json'));
  const releases = new ReleaseList(o.dir, join(state, 'releases.json'));
  const halting: { [group: string]: boolean } = Object.create(null);

  const withProgress = (r: Rollout) => Object.assign({}, r, { progress: rolloutProgress(r, fleet.list()) });

  const onDevice = (d: DeviceRecord) => {
    events.send('device', fleet.summary(d));
    const r = d.group !== '' ? rollouts.get(d.group) : null;
    if (r === null) return;
    const reason = haltReason(r, fleet.list());
    if (reason !== null && !halting[r.group]) halt(r, reason).catch((e: Error) => o.log('console: cannot halt the rollout to group ' + r.group + ': ' + e.message));
    else events.send('rollout', withProgress(r));
  };
  const fleet = new Fleet(join(state, 'devices'), onDevice, o.log);
  await fleet.load();
  await rollouts.load();
  await releases.load();
  await adoptRollouts();

  let flasher: Flasher | null = null;
  if (o.mqtt !== undefined) flasher = connectFlasher(o.mqtt, (device, code) => fleet.answer(device, code), o.log);

  /** Rollouts published with `ota publish --rollout` while the console was not running. */
  async function adoptRollouts(): Promise<void> {
    const groups = await readdir(join(o.dir, 'v1/ota/group/latest')).catch(() => [] as string[]);
    for (const group of groups.filter(isSafeId)) {
      const m = await readManifest(o.dir, { group }).catch(() => null);
      const known = rollouts.get(group);
      if (m === null || m.rollout === undefined || (known !== null && known.sha256 === m.sha256)) continue;
      await rollouts.put({ group, version: m.ver, sha256: m.sha256, percent: m.rollout, threshold: DEFAULT_HALT_THRESHOLD, halted: null });
    }
  }

  /** Stops a failing rollout: the manifest's percentage goes to 0, or, signed without a key, the manifest is set aside. */
  async function halt(r: Rollout, reason: string): Promise<void> {
    halting[r.group] = true;
    try {
      let how = 'its rollout set to 0 %';
      try {
        await setRollout(o.dir, r.group, 0, o.key);
      } catch {
        await mkdir(join(state, 'halted'), { recursive: true });
        await rename(join(o.dir, manifestPath({ group: r.group })), join(state, 'halted', r.group + '.json'));
        how = 'its manifest moved to ' + join(CONSOLE_DIR, 'halted', r.group + '.json') + ' (signed, and no --key to re-sign it)';
      }
      const halted = Object.assign({}, r, { halted: { at: new Date().toISOString(), reason } });
      await rollouts.put(halted);
      o.log('console: rollout of ' + r.version + ' to group ' + r.group + ' halted: ' + reason + '; ' + how);
      events.send('rollout', withProgress(halted));
    } finally {
      halting[r.group] = false;
    }
  }

  async function upload(req: IncomingMessage, url: URL): Promise<ReleaseEntry> {
    const q = Object.fromEntries(url.searchParams);
    const audience = audienceOf(q);
    const version = q.version ?? '';
    const notes = (q.notes ?? '').slice(0, MAX_NOTES);
    const rollout = q.rollout === undefined || q.rollout === '' ? undefined : Number(q.rollout);
    if (rollout !== undefined && (!('group' in audience) || !isRolloutPercent(rollout))) throw new HttpError(400, 'a rollout is a whole percentage from 0 to 100, for a group release');
    const threshold = q.threshold === undefined || q.threshold === '' ? DEFAULT_HALT_THRESHOLD : Number(q.threshold);
    if (!isRolloutPercent(threshold)) throw new HttpError(400, 'the halt threshold is a whole percentage from 0 to 100');
    if (Number(req.headers['content-length'] ?? 0) > maxUpload) throw new HttpError(413, 'the upload exceeds the limit of ' + maxUpload + ' bytes');
    await mkdir(join(state, 'uploads'), { recursive: true });
    const file = join(state, 'uploads', process.pid + '-' + Date.now() + '-' + Math.random().toString(36).slice(2) + '.bin');
    try {
      await receive(req, file, maxUpload);
      const m = await publish({ dir: o.dir, file, version, audience, key: o.key, rollout }).catch((e: Error) => {
        throw new HttpError(400, e.message);
      });
      const entry = await releases.add(m, audience, notes);
      if ('group' in audience) {
        if (rollout !== undefined) await rollouts.put({ group: audience.group, version: m.ver, sha256: m.sha256, percent: rollout, threshold, halted: null });
        else if (rollouts.get(audience.group) !== null) await rollouts.remove(audience.group);
      }
      o.log('console: published ' + m.ver + ' for ' + ('device' in audience ? 'device ' + audience.device : 'group ' + audience.group) + (rollout !== undefined ? ' at ' + rollout + ' %' : ''));
      events.send('releases', await releases.list());
      events.send('rollouts', rollouts.list().map(withProgress));
      return entry;
    } finally {
      await unlink(file).catch(() => undefined);
    }
  }

  async function changeRollout(fields: { [key: string]: unknown }): Promise<Rollout> {
    const group = fields.group;
    if (typeof group !== 'string' || !isSafeId(group)) throw new HttpError(400, 'give the "group" whose rollout changes');
    const percent = fields.percent;
    if (typeof percent !== 'number' || !isRolloutPercent(percent)) throw new HttpError(400, '"percent" is a whole number from 0 to 100');
    const r = rollouts.get(group);
    const threshold = fields.threshold ?? (r ? r.threshold : DEFAULT_HALT_THRESHOLD);
    if (typeof threshold !== 'number' || !isRolloutPercent(threshold)) throw new HttpError(400, '"threshold" is a whole number from 0 to 100');
    const m = await setRollout(o.dir, group, percent, o.key).catch((e: Error) => {
      throw new HttpError(409, e.message);
    });
    const next: Rollout = { group, version: m.ver, sha256: m.sha256, percent, threshold, halted: null };
    await rollouts.put(next);
    o.log('console: rollout of ' + m.ver + ' to group ' + group + ' set to ' + percent + ' %');
    events.send('rollout', withProgress(next));
    return next;
  }

  async function api(req: IncomingMessage, res: ServerResponse, url: URL, path: string): Promise<void> {
    const token = bearerToken(req.headers.authorization);
    if (token === null) throw new HttpError(401, 'the console API needs the admin token (Authorization: Bearer …)');
    if (!sameSecret(token, o.adminToken)) throw new HttpError(403, 'wrong admin token');
    const route = req.method + ' ' + path.slice('/console/api'.length);
    if (route === 'GET /state') {
      return json(res, 200, { devices: fleet.list(), releases: await releases.list(), rollouts: rollouts.list().map(withProgress), flash: flasher !== null, limits: { upload: maxUpload, devices: FLEET_LIMITS.devices } });
    }
    if (route === 'GET /events') {
      if (!events.add(res)) throw new HttpError(503, 'too many open consoles');
      return;
    }
    if (route.startsWith('GET /devices/')) {
      const d = fleet.get(path.slice('/console/api/devices/'.length));
      return d === null ? json(res, 404, { error: 'no such device' }) : json(res, 200, d);
    }
    if (route === 'POST /releases') return json(res, 201, await upload(req, url));
    if (route === 'POST /flash') {
      const target = audienceOf(await readJson(req));
      if (flasher === null) throw new HttpError(409, 'Flash needs a broker: start ota serve with --mqtt mqtt://user:pass@host:port');
      await flasher.flash(target).catch((e: Error) => {
        throw new HttpError(503, e.message);
      });
      o.log('console: Flash sent to ' + ('device' in target ? 'device ' + target.device : 'group ' + target.group));
      return json(res, 202, { sent: target });
    }
    if (route === 'POST /rollout') return json(res, 200, withProgress(await changeRollout(await readJson(req))));
    throw new HttpError(404, 'no such console API');
  }

  return {
    async handle(req, res, path) {
      if (path === '/console') {
        res.writeHead(301, { Location: '/console/' }).end();
        return true;
      }
      if (!path.startsWith('/console/')) return false;
      if (!path.startsWith('/console/api/')) {
        if ((req.method !== 'GET' && req.method !== 'HEAD') || !(await serveConsoleAsset(path, res))) json(res, 404, { error: 'not found' });
        return true;
      }
      const url = new URL(req.url ?? '/', 'http://x');
      try {
        await api(req, res, url, path);
      } catch (e) {
        const status = e instanceof HttpError ? e.status : 500;
        if (status === 500) o.log('console: ' + req.method + ' ' + path + ' failed: ' + (e as Error).message);
        if (res.headersSent) res.destroy();
        else {
          // A refused upload is not read to its end: the connection closes after the answer.
          if (status === 413) res.setHeader('Connection', 'close');
          json(res, status, { error: (e as Error).message });
        }
      }
      return true;
    },
    checkIn(device, group, version) {
      fleet.checkIn(device, group, version);
    },
    report(device, body) {
      fleet.report(device, body);
    },
    progress(device, received, total) {
      fleet.progress(device, received, total);
    },
    async close() {
      events.close();
      if (flasher) await flasher.close();
      await Promise.all([fleet.flushed(), releases.flushed(), rollouts.flushed()]);
    },
  };
}
