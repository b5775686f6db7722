/**
 * A hawkBit DDI server for tests, rebuilt from eclipse-hawkbit/hawkbit's own code (read with
 * `fetch`, not copied): the DDI controller `hawkbit-ddi-resource/.../DdiRootController.java`, its
 * links in `DataConversionHelper.java`, the models in `hawkbit-ddi-api/.../json/model/Ddi*.java`,
 * action status handling in `JpaControllerManagement.java`, error codes in `RestConfiguration.java`.
 *
 * What it does as hawkBit does:
 * - The controller base shows one link per active action: `confirmationBase` while the action
 *   waits for consent, `cancelAction` (with the action's own id) while it is being cancelled,
 *   else `deploymentBase`; `installedBase` for the last finished one; `configData` until the
 *   controller sent its attributes.
 * - `deploymentBase/{id}` is 404 while the action is cancelled or waits for consent.
 * - `download` is `forced` for forced and download-only actions, else `attempt`; `update` is `skip`
 *   for download-only actions and while a maintenance window is closed; `maintenanceWindow` is
 *   present only when the action has a schedule.
 * - Artifact hashes (sha1, md5, sha256) are computed from the bytes; the artifact answers Range
 *   requests with its own parser (RFC 9110), and If-Match on the SHA-1.
 * - Feedback bodies are validated as Jackson would bind them (400 for a missing `status`, an
 *   unknown `execution` or `finished`); feedback on an inactive action is 410, on an action that
 *   waits for consent 404; more than `maxStatusEntries` status entries for an action is 429.
 * - `closed`+`failure` ends the action in ERROR, `closed`+`success` FINISHED, `downloaded` ends a
 *   download-only action; cancel feedback `closed` ends it CANCELED, `rejected` puts it back to
 *   RUNNING.
 * - hawkBit 0.7 and later read `timestamp` (milliseconds); 0.3 to 0.6 read `time`; both ignore
 *   other fields.
 * - Controllers are registered on first poll when `autoRegister` is on and the gateway token
 *   authenticates (as `findOrRegisterTargetIfItDoesNotExist`); other endpoints are 404 for an
 *   unknown controller.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { listenLocal } from './fixtures.js';

export type ActionStatus = 'running' | 'waiting_confirmation' | 'canceling' | 'canceled' | 'finished' | 'error' | 'downloaded';

export interface Artifact {
  filename: string;
  data: Buffer;
  /** Leave out hashes, as older servers and imported artifacts do. */
  omit?: ('sha1' | 'md5' | 'sha256')[];
  /** Bytes served instead of `data` (a store that corrupted the artifact after its hashes were computed). */
  served?: Buffer;
}

export interface Module {
  id: number;
  part: string;
  version: string;
  name: string;
  artifacts: Artifact[];
}

export interface Action {
  id: number;
  controller: string;
  modules: Module[];
  type: 'forced' | 'soft' | 'downloadonly';
  /** A maintenance schedule: whether its window is open now. */
  maintenance?: 'available' | 'unavailable';
  status: ActionStatus;
  statusEntries: number;
}

/** One feedback the controller sent, as the server stored it. */
export interface Feedback {
  /** "deployment N", "cancel N" or "confirmation N". */
  on: string;
  execution: string;
  finished: string;
  details: string[];
  progress?: { cnt: number; of?: number };
  /** When the feedback says it happened: `timestamp` on 0.7+, `time` before (raw). */
  when: number | string | null;
}

export interface HawkbitOptions {
  tenant?: string;
  /** Known controllers and their target tokens. */
  targets?: Record<string, string>;
  /** Gateway token; when set it authenticates any controller of the tenant. */
  gatewayToken?: string;
  /** Register unknown controllers on their first poll (needs the gateway token). */
  autoRegister?: boolean;
  /** Feedback format: "0.3" reads `time`, "0.7" (default) reads `timestamp`. */
  version?: '0.3' | '0.7';
  sleep?: string;
  /** hawkbit.server.security.dos.maxStatusEntriesPerAction (1000 on a real server). */
  maxStatusEntries?: number;
  /**
   * A path the links carry before the tenant, as behind a reverse proxy (hawkBit builds links
   * from the request it sees): a client that builds URLs itself instead of following the links
   * misses it, and `requests` shows it.
   */
  linkPrefix?: string;
  /** HTTPS that requires a client certificate signed by `ca` (hawkBit's certificate authentication behind its TLS proxy). */
  tls?: { key: string; cert: string; ca: string };
}

const EXECUTIONS = ['closed', 'proceeding', 'canceled', 'scheduled', 'rejected', 'resumed', 'downloaded', 'download'];
const FINISHED = ['success', 'failure', 'none'];

/** An RFC 9110 byte range of a `size`-byte body: the one range, null for none/several/ignored, or 'unsatisfiable'. */
function byteRange(header: string | undefined, size: number): { start: number; end: number } | null | 'unsatisfiable' {
  if (header === undefined) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null; // several ranges or malformed: the whole body
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== '' && Number(m[2]) < start) return null;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

const hash = (alg: string, data: Buffer) => createHash(alg).update(data).digest('hex');

export async function hawkbitServer(opts: HawkbitOptions = {}) {
  const tenant = opts.tenant ?? 'DEFAULT';
  const targets: Record<string, string> = Object.assign({}, opts.targets ?? { dev1: 'target-token' });
  const version = opts.version ?? '0.7';
  const maxStatus = opts.maxStatusEntries ?? 1000;
  const prefix = opts.linkPrefix ?? '';
  let nextId = 7;
  const s = {
    url: '',
    actions: [] as Action[],
    feedback: [] as Feedback[],
    /** configData bodies received, per controller. */
    configData: [] as unknown[],
    /** Controllers whose attributes the server asks for (hawkBit asks new targets). */
    wantAttributes: new Set<string>(Object.keys(targets)),
    artifactRanges: [] as (string | undefined)[],
    /** Every request, "METHOD path". */
    requests: [] as string[],
    registered: [] as string[],
    pollStatus: 0,
    /** Milliseconds the artifact download pauses halfway (to act while a device downloads). */
    slowArtifact: 0,
    sleep: opts.sleep ?? '00:05:00',
    /** Assigns a distribution set to a controller: one module, one artifact (`image`), unless `modules` says otherwise. */
    assign(versionName: string, image: Buffer, extra: Partial<Omit<Action, 'modules'>> & { modules?: Omit<Module, 'id'>[]; confirm?: boolean } = {}): Action {
      const modules = (extra.modules ?? [{ part: 'os', version: versionName, name: 'firmware', artifacts: [{ filename: 'firmware.bin', data: image }] }]).map((m) => ({ ...m, id: nextId++ }));
      const a: Action = {
        id: nextId++,
        controller: extra.controller ?? Object.keys(targets)[0]!,
        modules,
        type: extra.type ?? 'forced',
        maintenance: extra.maintenance,
        status: extra.confirm ? 'waiting_confirmation' : 'running',
        statusEntries: 0,
      };
      s.actions.push(a);
      return a;
    },
    /** The operator cancels an action (hawkBit: only active ones). */
    cancel(a: Action) {
      if (a.status === 'running' || a.status === 'waiting_confirmation') a.status = 'canceling';
    },
    feedbackOn(a: Action) {
      return s.feedback.filter((f) => f.on.endsWith(' ' + a.id)).map((f) => f.execution + '/' + f.finished);
    },
  };
  const active = (a: Action) => a.status === 'running' || a.status === 'waiting_confirmation' || a.status === 'canceling';
  const activeFor = (c: string) => s.actions.find((a) => a.controller === c && active(a));
  const installedFor = (c: string) => s.actions.filter((a) => a.controller === c && a.status === 'finished').at(-1);

  const send = (res: ServerResponse, status: number, body?: unknown) => {
    res.writeHead(status, body === undefined ? {} : { 'Content-Type': 'application/hal+json' });
    res.end(body === undefined ? undefined : JSON.stringify(body));
  };
  const readBody = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let t = '';
      req.on('data', (d) => (t += d));
      req.on('end', () => resolve(t));
    });

  /** Binds a DdiActionFeedback as Jackson and bean validation would; null when it is a 400. */
  const bindFeedback = (text: string, on: string): Feedback | null => {
    let f: any;
    try {
      f = JSON.parse(text);
    } catch {
      return null;
    }
    const st = f?.status;
    if (typeof st !== 'object' || st === null) return null;
    if (!EXECUTIONS.includes(st.execution)) return null;
    if (typeof st.result !== 'object' || st.result === null || !FINISHED.includes(st.result.finished)) return null;
    const p = st.result.progress;
    if (p !== undefined && (typeof p !== 'object' || p === null || typeof p.cnt !== 'number')) return null;
    if (st.details !== undefined && (!Array.isArray(st.details) || st.details.some((d: unknown) => typeof d !== 'string'))) return null;
    if (version === '0.7' && f.timestamp !== undefined && typeof f.timestamp !== 'number') return null;
    const when = version === '0.7' ? (f.timestamp ?? null) : (f.time ?? null);
    return { on, execution: st.execution, finished: st.result.finished, details: st.details ?? [], progress: p, when };
  };

  const deployment = (a: Action) => {
    const download = a.type === 'downloadonly' || a.type === 'forced' ? 'forced' : 'attempt';
    const update = a.type === 'downloadonly' ? 'skip' : a.maintenance ? (a.maintenance === 'available' ? download : 'skip') : download;
    const base = s.url + prefix + '/' + tenant + '/controller/v1/' + a.controller;
    return {
      download,
      update,
      ...(a.maintenance ? { maintenanceWindow: a.maintenance } : {}),
      chunks: a.modules.map((m) => ({
        part: m.part,
        version: m.version,
        name: m.name,
        artifacts: m.artifacts.map((x) => {
          const hashes: Record<string, string> = { sha1: hash('sha1', x.data), md5: hash('md5', x.data), sha256: hash('sha256', x.data) };
          for (const k of x.omit ?? []) delete hashes[k];
          const href = base + '/softwaremodules/' + m.id + '/artifacts/' + x.filename;
          return { filename: x.filename, hashes, size: x.data.length, _links: { download: { href }, 'download-http': { href }, md5sum: { href: href + '.MD5SUM' }, 'md5sum-http': { href: href + '.MD5SUM' } } };
        }),
      })),
    };
  };

  /** Stores a status entry, enforcing the per-action quota; false when it is exceeded. */
  const addStatus = (a: Action) => {
    if (a.statusEntries >= maxStatus) return false;
    a.statusEntries++;
    return true;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url!, s.url);
    s.requests.push(req.method + ' ' + url.pathname);
    const path = prefix !== '' && url.pathname.startsWith(prefix + '/') ? url.pathname.slice(prefix.length) : url.pathname;
    const m0 = new RegExp('^/' + tenant + '/controller/v1/([^/]+)(/.*)?$').exec(path);
    if (!m0) return send(res, 404, { message: 'not found: ' + path });
    const controller = decodeURIComponent(m0[1]!);
    const rest = m0[2] ?? '';
    const auth = req.headers.authorization ?? '';
    const gateway = opts.gatewayToken !== undefined && auth === 'GatewayToken ' + opts.gatewayToken;
    const known = controller in targets;
    // Behind hawkBit's TLS proxy a verified client certificate whose CN is the controller id authenticates it.
    const byCert = opts.tls !== undefined && (req.socket as TLSSocket).authorized && (req.socket as TLSSocket).getPeerCertificate().subject?.CN === controller;
    if (!gateway && !byCert && !(known && auth === 'TargetToken ' + targets[controller])) return send(res, 401, { message: 'unauthorized' });
    if (!known) {
      if (!(rest === '' && req.method === 'GET' && opts.autoRegister)) return send(res, 404, { errorCode: 'hawkbit.server.error.repo.entityNotExists' });
      targets[controller] = '';
      s.registered.push(controller);
      s.wantAttributes.add(controller);
    }
    const base = s.url + prefix + '/' + tenant + '/controller/v1/' + controller;
    const a = activeFor(controller);

    if (rest === '' && req.method === 'GET') {
      if (s.pollStatus) return res.writeHead(s.pollStatus, { 'Retry-After': '42' }).end();
      const links: Record<string, { href: string }> = {};
      if (a?.status === 'waiting_confirmation') links.confirmationBase = { href: base + '/confirmationBase/' + a.id + '?c=-2122565939' };
      else if (a?.status === 'canceling') links.cancelAction = { href: base + '/cancelAction/' + a.id };
      else if (a) links.deploymentBase = { href: base + '/deploymentBase/' + a.id + '?c=-2129030598' };
      const inst = installedFor(controller);
      if (inst) links.installedBase = { href: base + '/installedBase/' + inst.id };
      if (s.wantAttributes.has(controller)) links.configData = { href: base + '/configData' };
      return send(res, 200, { config: { polling: { sleep: s.sleep } }, _links: links });
    }
    if (rest === '/configData' && req.method === 'PUT') {
      s.configData.push(JSON.parse(await readBody(req)));
      s.wantAttributes.delete(controller);
      return send(res, 200);
    }
    let m = /^\/(deploymentBase|cancelAction|confirmationBase|installedBase)\/(\d+)(\/feedback)?$/.exec(rest);
    if (m) {
      const kind = m[1]!;
      const action = s.actions.find((x) => x.id === Number(m![2]) && x.controller === controller);
      if (!action) return send(res, 404, { errorCode: 'hawkbit.server.error.repo.entityNotExists' });
      if (!m[3]) {
        if (req.method !== 'GET') return send(res, 405);
        if (kind === 'deploymentBase') {
          if (action.status === 'canceling' || action.status === 'canceled' || action.status === 'waiting_confirmation') return send(res, 404);
          return send(res, 200, { id: String(action.id), deployment: deployment(action) });
        }
        if (kind === 'confirmationBase') {
          if (action.status !== 'waiting_confirmation') return send(res, 404);
          return send(res, 200, { id: String(action.id), confirmation: deployment(action) });
        }
        if (kind === 'installedBase') {
          if (active(action) || action.status === 'canceled') return send(res, 404);
          return send(res, 200, { id: String(action.id), deployment: deployment(action) });
        }
        if (action.status !== 'canceling' && action.status !== 'canceled') return send(res, 404);
        return send(res, 200, { id: String(action.id), cancelAction: { stopId: String(action.id) } });
      }
      if (req.method !== 'POST') return send(res, 405);
      const text = await readBody(req);
      if (kind === 'confirmationBase') {
        let f: any;
        try {
          f = JSON.parse(text);
        } catch {
          return send(res, 400);
        }
        if (f?.confirmation !== 'confirmed' && f?.confirmation !== 'denied') return send(res, 400);
        if (!active(action)) return send(res, 410);
        if (action.status !== 'waiting_confirmation') return send(res, 404);
        s.feedback.push({ on: 'confirmation ' + action.id, execution: f.confirmation, finished: 'none', details: f.details ?? [], when: null });
        if (f.confirmation === 'confirmed') action.status = 'running';
        return send(res, 200);
      }
      const f = bindFeedback(text, (kind === 'cancelAction' ? 'cancel ' : 'deployment ') + action.id);
      if (f === null) return send(res, 400, { errorCode: 'hawkbit.server.error.rest.body.notReadable' });
      if (kind === 'cancelAction') {
        if (action.status !== 'canceling') return send(res, 405, { errorCode: 'hawkbit.server.error.action.notcancelable' });
        if (f.execution === 'closed') action.status = f.finished === 'failure' ? 'running' : 'canceled';
        else if (f.execution === 'rejected') action.status = 'running';
        else if (!addStatus(action)) return send(res, 429);
        s.feedback.push(f);
        return send(res, 200);
      }
      if (action.status === 'waiting_confirmation') return send(res, 404);
      if (!active(action)) return send(res, 410);
      const final = f.execution === 'closed' || (f.execution === 'downloaded' && action.type === 'downloadonly');
      if (!final && !addStatus(action)) return send(res, 429, { errorCode: 'hawkbit.server.error.quota.tooManyEntries' });
      s.feedback.push(f);
      if (f.execution === 'closed') action.status = f.finished === 'failure' ? 'error' : 'finished';
      else if (final) action.status = 'downloaded';
      return send(res, 200);
    }
    m = /^\/softwaremodules\/(\d+)\/artifacts\/([^/]+)$/.exec(rest);
    if (m && req.method === 'GET') {
      const mod = s.actions.flatMap((x) => (x.controller === controller ? x.modules : [])).find((x) => x.id === Number(m![1]));
      const art = mod?.artifacts.find((x) => x.filename === decodeURIComponent(m![2]!));
      if (!art) return send(res, 404);
      const sha1 = hash('sha1', art.data);
      if (req.headers['if-match'] !== undefined && req.headers['if-match'] !== sha1 && req.headers['if-match'] !== '"' + sha1 + '"') return send(res, 412);
      s.artifactRanges.push(req.headers.range);
      const bytes = art.served ?? art.data;
      const size = bytes.length;
      const r = byteRange(req.headers.range, size);
      if (r === 'unsatisfiable') return res.writeHead(416, { 'Content-Range': 'bytes */' + size }).end();
      const start = r ? r.start : 0;
      const end = r ? r.end : size - 1;
      res.writeHead(r ? 206 : 200, {
        'Content-Type': 'application/octet-stream',
        'Accept-Ranges': 'bytes',
        ETag: sha1,
        'Content-Length': end - start + 1,
        ...(r ? { 'Content-Range': 'bytes ' + start + '-' + end + '/' + size } : {}),
      });
      const body = bytes.subarray(start, end + 1);
      if (s.slowArtifact === 0) return res.end(body);
      const half = Math.floor(body.length / 2);
      res.write(body.subarray(0, half));
      setTimeout(() => res.end(body.subarray(half)), s.slowArtifact);
      return;
    }
    send(res, 404, { message: 'not found: ' + path });
  };
  const serve = (req: IncomingMessage, res: ServerResponse) => void handle(req, res);
  s.url = opts.tls
    ? (await listenLocal(createHttpsServer({ key: opts.tls.key, cert: opts.tls.cert, ca: opts.tls.ca, requestCert: true, rejectUnauthorized: true }, serve))).replace('http:', 'https:')
    : await listenLocal(createServer(serve));
  return s;
}
