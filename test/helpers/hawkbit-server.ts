/**
 * A hawkBit DDI server for tests, written from the API description (../shared/notes/hawkbit-ddi.md):
 * links appear only when there is something to do, feedback is recorded, artifacts support
 * Range, feedback on a closed action gets 410.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { parseRange } from '../../src/server/server.js';
import { listenLocal } from './fixtures.js';

export interface Action {
  id: number;
  version: string;
  image: Buffer;
  download: 'skip' | 'attempt' | 'forced';
  update: 'skip' | 'attempt' | 'forced';
  maintenanceWindow?: 'available' | 'unavailable';
  closed: boolean;
  cancelRequested: boolean;
}

export interface Feedback {
  action: string;
  execution: string;
  finished: string;
  details: string[];
  progress?: { cnt: number; of: number };
}

export async function hawkbitServer(opts: { tenant?: string; controller?: string; token?: string; sleep?: string } = {}) {
  const tenant = opts.tenant ?? 'DEFAULT';
  const controller = opts.controller ?? 'dev1';
  const token = opts.token ?? 'target-token';
  const base = '/' + tenant + '/controller/v1/' + controller;
  const s = {
    url: '',
    actions: [] as Action[],
    feedback: [] as Feedback[],
    configData: [] as unknown[],
    artifactRanges: [] as (string | undefined)[],
    pollStatus: 0,
    sleep: opts.sleep ?? '00:05:00',
    /** Offers `version` as a new action; returns it. */
    assign(version: string, image: Buffer, extra: Partial<Action> = {}): Action {
      const a: Action = { id: s.actions.length + 1, version, image, download: 'forced', update: 'forced', closed: false, cancelRequested: false, ...extra };
      s.actions.push(a);
      return a;
    },
  };
  const open = () => s.actions.find((a) => !a.closed);
  const send = (res: ServerResponse, status: number, body?: unknown) => {
    res.writeHead(status, body === undefined ? {} : { 'Content-Type': 'application/hal+json' });
    res.end(body === undefined ? undefined : JSON.stringify(body));
  };
  const body = (req: IncomingMessage) =>
    new Promise<any>((resolve) => {
      let t = '';
      req.on('data', (d) => (t += d));
      req.on('end', () => resolve(t ? JSON.parse(t) : null));
    });

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (req.headers.authorization !== 'TargetToken ' + token) return send(res, 401, { message: 'unauthorized' });
    const url = new URL(req.url!, s.url);
    const path = url.pathname;
    const a = open();
    if (path === base && req.method === 'GET') {
      if (s.pollStatus) return res.writeHead(s.pollStatus, { 'Retry-After': '42' }).end();
      const links: Record<string, { href: string }> = {};
      if (s.configData.length === 0) links.configData = { href: s.url + base + '/configData' };
      if (a?.cancelRequested) links.cancelAction = { href: s.url + base + '/cancelAction/' + (100 + a.id) };
      else if (a) links.deploymentBase = { href: s.url + base + '/deploymentBase/' + a.id + '?c=-2129030598' };
      return send(res, 200, { config: { polling: { sleep: s.sleep } }, _links: links });
    }
    if (path === base + '/configData' && req.method === 'PUT') {
      s.configData.push(await body(req));
      return send(res, 200);
    }
    let m = new RegExp('^' + base + '/deploymentBase/(\\d+)(/feedback)?$').exec(path);
    if (m) {
      const action = s.actions.find((x) => x.id === Number(m![1]));
      if (!action) return send(res, 404, { message: 'no such action' });
      if (m[2]) {
        if (action.closed) return send(res, 410, { message: 'action is closed' });
        const f = await body(req);
        s.feedback.push({ action: String(action.id), execution: f.status.execution, finished: f.status.result.finished, details: f.status.details, progress: f.status.result.progress });
        if (f.status.execution === 'closed') action.closed = true;
        return send(res, 200);
      }
      const sha256 = createHash('sha256').update(action.image).digest('hex');
      const artifact = s.url + base + '/softwaremodules/' + (10 + action.id) + '/artifacts/firmware.bin';
      return send(res, 200, {
        id: String(action.id),
        deployment: {
          download: action.download,
          update: action.update,
          ...(action.maintenanceWindow ? { maintenanceWindow: action.maintenanceWindow } : {}),
          chunks: [{ part: 'os', version: action.version, name: 'firmware', artifacts: [{ filename: 'firmware.bin', size: action.image.length, hashes: { sha1: 'x', md5: 'y', sha256 }, _links: { download: { href: artifact }, 'download-http': { href: artifact } } }] }],
        },
        actionHistory: { status: 'RUNNING', messages: [] },
      });
    }
    m = new RegExp('^' + base + '/cancelAction/(\\d+)(/feedback)?$').exec(path);
    if (m && a) {
      if (m[2]) {
        const f = await body(req);
        s.feedback.push({ action: 'cancel ' + m[1], execution: f.status.execution, finished: f.status.result.finished, details: f.status.details });
        a.closed = true;
        return send(res, 200);
      }
      return send(res, 200, { id: m[1], cancelAction: { stopId: String(a.id) } });
    }
    m = new RegExp('^' + base + '/softwaremodules/(\\d+)/artifacts/firmware\\.bin$').exec(path);
    if (m) {
      const action = s.actions.find((x) => 10 + x.id === Number(m![1]))!;
      s.artifactRanges.push(req.headers.range);
      const r = parseRange(req.headers.range, action.image.length);
      if (r === 'unsatisfiable') return res.writeHead(416, { 'Content-Range': 'bytes */' + action.image.length }).end();
      const start = r ? r.start : 0;
      const end = r ? r.end : action.image.length - 1;
      res.writeHead(r ? 206 : 200, { 'Content-Length': end - start + 1, ...(r ? { 'Content-Range': 'bytes ' + start + '-' + end + '/' + action.image.length } : {}) });
      return res.end(action.image.subarray(start, end + 1));
    }
    send(res, 404, { message: 'not found: ' + path });
  };
  s.url = await listenLocal(createServer((req, res) => void handle(req, res)));
  return s;
}
