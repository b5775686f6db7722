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
import { tempName } from '../platform/node/file-ops.js';
import { bearerToken, sameSecret } from './auth.js';
import { serveConsoleAsset } from './console-assets.js';
import { Fleet, FLEET_LIMITS, type DeviceRecord } from './fleet.js';
import { connectFlasher, type Flasher } from './flash.js';
import { json } from './json-response.js';
import { isRolloutPercent, isSafeId, manifestPath, publish, readManifest, setRollout, type Audience } from './release-store.js';
import { ReleaseList, type ReleaseEntry } from './release-list.js';
import { DEFAULT_HALT_THRESHOLD, haltReason, rolloutProgress, Rollouts, type Rollout, type RolloutProgress } from './rollouts.js';
import { eventHub } from './sse.js';

/** The console's state directory inside the release directory (never served: `ota serve` refuses dot paths). */
const CONSOLE_DIR = '.ota-console';

/** Default largest upload: 64 MiB. */
const DEFAULT_MAX_UPLOAD = 64 * 1024 * 1024;

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

/** Starts the console for a release directory: its records loaded, its broker connection opened. */
export async function startConsole(o: ConsoleOptions): Promise<Console> {
  const c = new ConsoleApi(o);
  await c.load();
  return c;
}

/**
 * The console: the request dispatch, then one method per route group (state and devices, uploads,
 * Flash, rollouts and their halt rule), and the device events `ota serve` hands in.
 */
class ConsoleApi implements Console {
  private readonly state: string;
  private readonly maxUpload: number;
  private readonly events = eventHub(MAX_EVENT_STREAMS);
  private readonly rollouts: Rollouts;
  private readonly releases: ReleaseList;
  private readonly fleet: Fleet;
  /** Groups whose rollout is being halted now: a report arriving meanwhile does not halt it twice. */
  private readonly halting: { [group: string]: boolean } = Object.create(null);
  private flasher: Flasher | null = null;

  constructor(private readonly o: ConsoleOptions) {
    this.state = join(o.dir, CONSOLE_DIR);
    this.maxUpload = o.maxUpload ?? DEFAULT_MAX_UPLOAD;
    this.rollouts = new Rollouts(join(this.state, 'rollouts.json'));
    this.releases = new ReleaseList(o.dir, join(this.state, 'releases.json'));
    this.fleet = new Fleet(join(this.state, 'devices'), (d) => this.onDevice(d), o.log);
  }

  /** Reads the records, adopts rollouts published meanwhile, and connects to the broker. */
  async load(): Promise<void> {
    await this.fleet.load();
    await this.rollouts.load();
    await this.releases.load();
    await this.adoptRollouts();
    if (this.o.mqtt !== undefined) this.flasher = connectFlasher(this.o.mqtt, (device, code) => this.fleet.answer(device, code), this.o.log);
  }

  async handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    if (path === '/console') {
      res.writeHead(301, { Location: '/console/' }).end();
      return true;
    }
    if (!path.startsWith('/console/')) return false;
    if (!path.startsWith('/console/api/')) {
      if ((req.method !== 'GET' && req.method !== 'HEAD') || !(await serveConsoleAsset(path, res))) json(res, 404, { error: 'not found' });
      return true;
    }
    try {
      await this.api(req, res, path);
    } catch (e) {
      const status = e instanceof HttpError ? e.status : 500;
      if (status === 500) this.o.log('console: ' + req.method + ' ' + path + ' failed: ' + (e as Error).message);
      if (res.headersSent) res.destroy();
      else {
        // A refused upload is not read to its end: the connection closes after the answer.
        if (status === 413) res.setHeader('Connection', 'close');
        json(res, status, { error: (e as Error).message });
      }
    }
    return true;
  }

  checkIn(device: string, group: string, version: string): void {
    this.fleet.checkIn(device, group, version);
  }

  report(device: string, body: { [key: string]: unknown }): void {
    this.fleet.report(device, body);
  }

  progress(device: string, received: number, total: number): void {
    this.fleet.progress(device, received, total);
  }

  async close(): Promise<void> {
    this.events.close();
    if (this.flasher) await this.flasher.close();
    await Promise.all([this.fleet.flushed(), this.releases.flushed(), this.rollouts.flushed()]);
  }

  /** The admin token, then the route. */
  private async api(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const token = bearerToken(req.headers.authorization);
    if (token === null) throw new HttpError(401, 'the console API needs the admin token (Authorization: Bearer …)');
    if (!sameSecret(token, this.o.adminToken)) throw new HttpError(403, 'wrong admin token');
    const route = req.method + ' ' + path.slice('/console/api'.length);
    if (route === 'GET /state') return json(res, 200, await this.snapshot());
    if (route === 'GET /events') {
      if (!this.events.add(res)) throw new HttpError(503, 'too many open consoles');
      return;
    }
    if (route.startsWith('GET /devices/')) {
      const d = this.fleet.get(path.slice('/console/api/devices/'.length));
      return d === null ? json(res, 404, { error: 'no such device' }) : json(res, 200, d);
    }
    if (route === 'POST /releases') return json(res, 201, await this.upload(req, new URL(req.url ?? '/', 'http://x')));
    if (route === 'POST /flash') return json(res, 202, { sent: await this.flash(audienceOf(await readJson(req))) });
    if (route === 'POST /rollout') return json(res, 200, this.withProgress(await this.changeRollout(await readJson(req))));
    throw new HttpError(404, 'no such console API');
  }

  /** `GET /state`: everything the page shows when it opens. */
  private async snapshot(): Promise<object> {
    return {
      devices: this.fleet.list(),
      releases: await this.releases.list(),
      rollouts: this.rolloutsWithProgress(),
      flash: this.flasher !== null,
      limits: { upload: this.maxUpload, devices: FLEET_LIMITS.devices },
    };
  }

  /** `POST /releases`: an uploaded image published as `ota publish` does, with its notes and rollout. */
  private async upload(req: IncomingMessage, url: URL): Promise<ReleaseEntry> {
    const q = Object.fromEntries(url.searchParams);
    const audience = audienceOf(q);
    const version = q.version ?? '';
    const notes = (q.notes ?? '').slice(0, MAX_NOTES);
    const rollout = q.rollout === undefined || q.rollout === '' ? undefined : Number(q.rollout);
    if (rollout !== undefined && (!('group' in audience) || !isRolloutPercent(rollout))) throw new HttpError(400, 'a rollout is a whole percentage from 0 to 100, for a group release');
    const threshold = q.threshold === undefined || q.threshold === '' ? DEFAULT_HALT_THRESHOLD : Number(q.threshold);
    if (!isRolloutPercent(threshold)) throw new HttpError(400, 'the halt threshold is a whole percentage from 0 to 100');
    if (Number(req.headers['content-length'] ?? 0) > this.maxUpload) throw new HttpError(413, 'the upload exceeds the limit of ' + this.maxUpload + ' bytes');
    await mkdir(join(this.state, 'uploads'), { recursive: true });
    const file = tempName(join(this.state, 'uploads', 'upload.bin'));
    try {
      await receive(req, file, this.maxUpload);
      const m = await publish({ dir: this.o.dir, file, version, audience, key: this.o.key, rollout }).catch((e: Error) => {
        throw new HttpError(400, e.message);
      });
      const entry = await this.releases.add(m, audience, notes);
      if ('group' in audience) {
        if (rollout !== undefined) await this.rollouts.put({ group: audience.group, version: m.ver, sha256: m.sha256, percent: rollout, threshold, halted: null });
        else if (this.rollouts.get(audience.group) !== null) await this.rollouts.remove(audience.group);
      }
      this.o.log('console: published ' + m.ver + ' for ' + ('device' in audience ? 'device ' + audience.device : 'group ' + audience.group) + (rollout !== undefined ? ' at ' + rollout + ' %' : ''));
      this.events.send('releases', await this.releases.list());
      this.events.send('rollouts', this.rolloutsWithProgress());
      return entry;
    } finally {
      await unlink(file).catch(() => undefined);
    }
  }

  /** `POST /flash`: IoTaaP's trigger for a device or a group, through the broker. */
  private async flash(target: Audience): Promise<Audience> {
    if (this.flasher === null) throw new HttpError(409, 'Flash needs a broker: start ota serve with --mqtt mqtt://user:pass@host:port');
    await this.flasher.flash(target).catch((e: Error) => {
      throw new HttpError(503, e.message);
    });
    this.o.log('console: Flash sent to ' + ('device' in target ? 'device ' + target.device : 'group ' + target.group));
    return target;
  }

  /** `POST /rollout`: a group's percentage (and halt threshold) changed in its manifest. */
  private async changeRollout(fields: { [key: string]: unknown }): Promise<Rollout> {
    const group = fields.group;
    if (typeof group !== 'string' || !isSafeId(group)) throw new HttpError(400, 'give the "group" whose rollout changes');
    const percent = fields.percent;
    if (typeof percent !== 'number' || !isRolloutPercent(percent)) throw new HttpError(400, '"percent" is a whole number from 0 to 100');
    const r = this.rollouts.get(group);
    const threshold = fields.threshold ?? (r ? r.threshold : DEFAULT_HALT_THRESHOLD);
    if (typeof threshold !== 'number' || !isRolloutPercent(threshold)) throw new HttpError(400, '"threshold" is a whole number from 0 to 100');
    const m = await setRollout(this.o.dir, group, percent, this.o.key).catch((e: Error) => {
      throw new HttpError(409, e.message);
    });
    const next: Rollout = { group, version: m.ver, sha256: m.sha256, percent, threshold, halted: null };
    await this.rollouts.put(next);
    this.o.log('console: rollout of ' + m.ver + ' to group ' + group + ' set to ' + percent + ' %');
    this.events.send('rollout', this.withProgress(next));
    return next;
  }

  /** `devices`: the fleet's list, taken once by a caller that needs it for several rollouts (it copies every record). */
  private withProgress(r: Rollout, devices = this.fleet.list()): Rollout & { progress: RolloutProgress } {
    return Object.assign({}, r, { progress: rolloutProgress(r, devices) });
  }

  private rolloutsWithProgress(): (Rollout & { progress: RolloutProgress })[] {
    const devices = this.fleet.list();
    return this.rollouts.list().map((r) => this.withProgress(r, devices));
  }

  /** A device's record changed: pushed to the open consoles, and its group's rollout halted when the wave fails. */
  private onDevice(d: DeviceRecord): void {
    this.events.send('device', this.fleet.summary(d));
    const r = d.group !== '' ? this.rollouts.get(d.group) : null;
    if (r === null) return;
    const devices = this.fleet.list();
    const reason = haltReason(r, devices);
    if (reason !== null && !this.halting[r.group]) this.halt(r, reason).catch((e: Error) => this.o.log('console: cannot halt the rollout to group ' + r.group + ': ' + e.message));
    else this.events.send('rollout', this.withProgress(r, devices));
  }

  /** Rollouts published with `ota publish --rollout` while the console was not running. */
  private async adoptRollouts(): Promise<void> {
    const groups = await readdir(join(this.o.dir, 'v1/ota/group/latest')).catch(() => [] as string[]);
    for (const group of groups.filter(isSafeId)) {
      const m = await readManifest(this.o.dir, { group }).catch(() => null);
      const known = this.rollouts.get(group);
      if (m === null || m.rollout === undefined || (known !== null && known.sha256 === m.sha256)) continue;
      await this.rollouts.put({ group, version: m.ver, sha256: m.sha256, percent: m.rollout, threshold: DEFAULT_HALT_THRESHOLD, halted: null });
    }
  }

  /** Stops a failing rollout: the manifest's percentage goes to 0, or, signed without a key, the manifest is set aside. */
  private async halt(r: Rollout, reason: string): Promise<void> {
    this.halting[r.group] = true;
    try {
      let how = 'its rollout set to 0 %';
      try {
        await setRollout(this.o.dir, r.group, 0, this.o.key);
      } catch {
        await mkdir(join(this.state, 'halted'), { recursive: true });
        await rename(join(this.o.dir, manifestPath({ group: r.group })), join(this.state, 'halted', r.group + '.json'));
        how = 'its manifest moved to ' + join(CONSOLE_DIR, 'halted', r.group + '.json') + ' (signed, and no --key to re-sign it)';
      }
      const halted = Object.assign({}, r, { halted: { at: new Date().toISOString(), reason } });
      await this.rollouts.put(halted);
      this.o.log('console: rollout of ' + r.version + ' to group ' + r.group + ' halted: ' + reason + '; ' + how);
      this.events.send('rollout', this.withProgress(halted));
    } finally {
      this.halting[r.group] = false;
    }
  }
}
