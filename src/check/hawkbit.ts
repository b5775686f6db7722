/**
 * Eclipse hawkBit's Direct Device Integration API (docs/protocol.md#hawkbit). The device polls
 * its controller base with its target token and follows the links the server gives: configData
 * (device attributes, on first contact), cancelAction, deploymentBase (the release). Feedback
 * follows the update: `proceeding` while downloading, `closed`+`success` once the new slot is
 * confirmed (after the reboot, so the open action is kept in the state store), `closed`+`failure`
 * before any reboot on failure and after a rollback.
 */
import type { OtaConfig } from '../config/config.js';
import { mayCarryCredentials } from '../config/url-policy.js';
import { otaError } from '../errors.js';
import type { Clock, Logger, StateStore, Transport } from '../platform/interfaces.js';
import { DEFAULT_CHUNK_SIZE, type Release } from './release.js';
import { isNewer, parseVersion } from './version.js';
import { parseWhole } from '../text/numbers.js';
import { getJson, sendJson } from './json-http.js';
import type { Protocol, StatusReport } from './protocol.js';

/** Where the open action is remembered across reboots. */
const ACTION = 'hawkbit-action.json';

interface OpenAction {
  id: string;
  feedback: string;
  version: string;
}

type Json = { [key: string]: unknown };

function obj(v: unknown): Json | null {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : null;
}

function href(links: unknown, name: string): string | null {
  const l = obj(obj(links)?.[name]);
  return l && typeof l.href === 'string' ? l.href : null;
}

function bad(field: string, why: string): never {
  throw otaError('MANIFEST_INVALID', 'check', 'hawkBit deployment field "' + field + '" ' + why);
}

/** hawkBit's "HH:MM:SS" sleep, in milliseconds; null when absent or malformed (signs, spaces, MM or SS above 59). */
export function parseSleep(v: unknown): number | null {
  if (typeof v !== 'string') return null;
  const p = v.split(':');
  if (p.length !== 3) return null;
  let total = 0;
  for (let i = 0; i < 3; i++) {
    // Digits only: a sign would make a negative sleep; minutes and seconds stay below 60.
    const n = p[i]!.length <= 2 ? parseWhole(p[i]!) : -1;
    if (n < 0 || (i > 0 && n > 59)) return null;
    total = total * 60 + n;
  }
  return total * 1000;
}

/** hawkBit's feedback time: "20230803T123141" (UTC). */
function feedbackTime(ms: number): string {
  const d = new Date(ms).toISOString();
  return d.slice(0, 4) + d.slice(5, 7) + d.slice(8, 10) + 'T' + d.slice(11, 13) + d.slice(14, 16) + d.slice(17, 19);
}

/** Creates the hawkBit adapter. */
export function hawkbitProtocol(config: OtaConfig, io: { transport: Transport; clock: Clock; state: StateStore; logger: Logger }, agentVersion: string): Protocol {
  const base = config.ota_domain + '/' + encodeURIComponent(config.hawkbit_tenant) + '/controller/v1/' + encodeURIComponent(config.device_id);
  const auth: Record<string, string> = config.device_token === '' ? {} : { Authorization: 'TargetToken ' + config.device_token };
  let sleepMs: number | null = null;
  let lastProgress = -1;

  const openAction = async (): Promise<OpenAction | null> => {
    const text = await io.state.read(ACTION);
    if (text === null) return null;
    try {
      const a = JSON.parse(text) as OpenAction;
      return typeof a.id === 'string' && typeof a.feedback === 'string' ? a : null;
    } catch (e) {
      return null;
    }
  };

  /** Sends feedback on an action; a 410 (the action is no longer active) just forgets it. */
  const feedback = async (action: OpenAction, execution: string, finished: string, details: string[], progress?: { cnt: number; of: number }) => {
    const result: Json = { finished };
    if (progress) result.progress = progress;
    const status = await sendJson(io, 'POST', action.feedback, auth, { id: action.id, time: feedbackTime(io.clock.date()), status: { execution, result, details } }, [410]);
    if (status === 410) io.logger.log('WARNING', 'hawkBit action ' + action.id + ' is no longer active (410); forgetting it');
    if (status === 410 || execution === 'closed') await io.state.remove(ACTION);
  };

  const deployment = async (url: string): Promise<Release | null> => {
    const d = obj(await getJson(io, url, auth));
    if (d === null) return null;
    if (typeof d.id !== 'string' && typeof d.id !== 'number') bad('id', 'is missing');
    const dep = obj(d.deployment) ?? bad('deployment', 'is missing');
    const chunk = obj(Array.isArray(dep.chunks) ? dep.chunks[0] : null) ?? bad('deployment.chunks', 'holds no chunk');
    const version = typeof chunk.version === 'string' ? parseVersion(chunk.version) : null;
    if (version === null) bad('chunks[0].version', 'is ' + JSON.stringify(chunk.version) + ', not a semantic version');
    const artifact = obj(Array.isArray(chunk.artifacts) ? chunk.artifacts[0] : null) ?? bad('chunks[0].artifacts', 'holds no artifact');
    if (typeof artifact.size !== 'number' || artifact.size <= 0 || artifact.size % 1 !== 0) bad('artifacts[0].size', 'must be a whole number of bytes above 0');
    const sha256 = obj(artifact.hashes)?.sha256;
    if (typeof sha256 !== 'string' || sha256.length !== 64) bad('artifacts[0].hashes.sha256', 'must be 64 hexadecimal characters');
    const link = href(artifact._links, 'download') ?? href(artifact._links, 'download-http') ?? bad('artifacts[0]._links.download', 'is missing');
    if (dep.download === 'skip') return null; // the server wants nothing done yet
    const action: OpenAction = { id: String(d.id), feedback: url.split('?')[0] + '/feedback', version };
    await io.state.write(ACTION, JSON.stringify(action));
    const hold =
      dep.update === 'skip' ? 'the hawkBit server says not to install yet (update: skip)' : dep.maintenanceWindow === 'unavailable' ? "the hawkBit server's maintenance window is closed" : undefined;
    return { version, size: artifact.size, sha256: sha256.toLowerCase(), chunkSize: DEFAULT_CHUNK_SIZE, chunkCrc32: null, url: link, overrideRejected: dep.update === 'forced', installHold: hold };
  };

  return {
    async check(running) {
      const poll = obj(await getJson(io, base, auth));
      if (poll === null) throw otaError('HTTP_STATUS', 'check', 'hawkBit does not know controller ' + config.device_id + ' (404 from ' + base + ')', { status: 404 });
      sleepMs = parseSleep(obj(obj(poll.config)?.polling)?.sleep);
      const links = poll._links;
      const configData = href(links, 'configData');
      if (configData !== null) {
        await sendJson(io, 'PUT', configData, auth, { mode: 'merge', data: { firmware_version: running.version, ota_client: agentVersion } });
      }
      const cancel = href(links, 'cancelAction');
      if (cancel !== null) {
        const c = obj(await getJson(io, cancel, auth));
        const stopId = String(obj(c?.cancelAction)?.stopId ?? c?.id ?? '');
        const cancelId = String(c?.id ?? stopId);
        io.logger.log('INFO', 'hawkBit cancelled action ' + stopId + '; nothing is installed for it');
        await sendJson(io, 'POST', base + '/cancelAction/' + encodeURIComponent(cancelId) + '/feedback', auth, {
          id: cancelId,
          time: feedbackTime(io.clock.date()),
          status: { execution: 'closed', result: { finished: 'success' }, details: ['cancelled before download'] },
        }, [410]);
        await io.state.remove(ACTION);
        return null;
      }
      const dep = href(links, 'deploymentBase');
      return dep === null ? null : deployment(dep);
    },

    async declined(release, runningVersion) {
      const action = await openAction();
      if (action === null) return;
      if (isNewer(release.version, runningVersion)) return;
      const same = !isNewer(runningVersion, release.version);
      await feedback(action, 'closed', same ? 'success' : 'failure', [same ? release.version + ' is already running' : 'refused: ' + release.version + ' is older than the running ' + runningVersion]);
    },

    downloadHeaders: (url) => (mayCarryCredentials(url, config.ota_domain, config.trusted_origins) ? auth : {}),

    progress(received, total) {
      const step = Math.floor((received / total) * 10);
      if (step === lastProgress) return;
      lastProgress = step;
      openAction()
        .then((a) => a && feedback(a, 'proceeding', 'none', ['downloading ' + received + ' of ' + total + ' bytes'], { cnt: step, of: 10 }))
        .catch((e) => io.logger.log('WARNING', 'hawkBit progress feedback failed: ' + (e as Error).message));
    },

    async report(r: StatusReport) {
      const action = await openAction();
      if (action === null) return;
      if (r.stage === 'downloading') await feedback(action, 'proceeding', 'none', ['downloading ' + r.version]);
      else if (r.stage === 'installed') await feedback(action, 'proceeding', 'none', [r.version + ' installed; rebooting into it on trial']);
      else if (r.stage === 'confirmed') await feedback(action, 'closed', 'success', [r.version + ' running and confirmed']);
      else await feedback(action, 'closed', 'failure', [(r.reverted ? 'rolled back: ' : '') + (r.reason ?? 'failed')]);
    },

    suggestedIntervalMs: () => sleepMs,
  };
}
