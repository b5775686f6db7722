/**
 * Eclipse hawkBit's Direct Device Integration API (docs/protocol.md#hawkbit), as hawkBit's DDI
 * controller serves it and as rauc-hawkbit-updater and SWUpdate's suricatta use it.
 *
 * The device polls its controller base and follows only the links the server gives: configData
 * (attributes), confirmationBase (user consent), cancelAction, deploymentBase (the release). An
 * action stays open through the whole update: `proceeding` while downloading and through the
 * trial boot, `downloaded` when installing has to wait, `closed`+`success` once the new slot is
 * confirmed, `closed`+`failure` on failure and after a rollback. The open action lives in the
 * state store, so it survives the reboot into the trial.
 */
import type { OtaConfig } from '../config/config.js';
import { mayCarryCredentials } from '../config/url-policy.js';
import { otaError } from '../errors.js';
import type { Clock, Logger, StateStore, Transport } from '../platform/interfaces.js';
import { readConsent, clearConsent, keepDenial } from './consent.js';
import { DEFAULT_CHUNK_SIZE, type Release } from './release.js';
import { parseWhole } from '../text/numbers.js';
import { isoTime } from '../text/iso-time.js';
import { compareVersions } from './version.js';
import { getJson, sendJson } from './json-http.js';
import type { Protocol, StatusReport } from './protocol.js';

/** Where the open action is remembered across reboots. */
const ACTION = 'hawkbit-action.json';

/**
 * `proceeding` feedbacks sent per action at most. hawkBit keeps at most 1000 status entries per
 * action (hawkbit.server.security.dos.maxStatusEntriesPerAction) and answers 429 beyond; a device
 * that retries a download for days must not fill them.
 */
const MAX_PROCEEDING = 60;

/** Longest wait between two polls of the controller base while a download runs (to notice a cancel). */
const WATCH_MAX_MS = 30000;

interface OpenAction {
  id: string;
  /** The deploymentBase href without its query, plus "/feedback": hawkBit gives no link of its own for it. */
  feedback: string;
  version: string;
  /** "download" until the image is installed, "installed" from then until the trial ends. */
  phase: 'download' | 'installed';
  /** A download-only action (`update: skip`, no maintenance window): hawkBit closes it on `downloaded`. */
  downloadOnly: boolean;
  /** The intermediate feedbacks sent on it: each is sent once (a waiting install is checked again and again). */
  sent: string[];
}

type Json = { [key: string]: unknown };

function obj(v: unknown): Json | null {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : null;
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function href(links: unknown, name: string): string | null {
  const l = obj(obj(links)?.[name]);
  return l && typeof l.href === 'string' ? l.href : null;
}

function bad(field: string, why: string): never {
  throw otaError('MANIFEST_INVALID', 'check', 'hawkBit deployment field "' + field + '" ' + why);
}

/** `href` without its query string (hawkBit adds `?c=…` to deploymentBase links). */
function withoutQuery(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

function isHex(s: unknown, length: number): s is string {
  if (typeof s !== 'string' || s.length !== length) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.toLowerCase().charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
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

/** The feedback time as hawkBit before 0.7 reads it ("time": "20230803T123141", UTC). */
function legacyTime(ms: number): string {
  const d = isoTime(ms);
  return d.slice(0, 4) + d.slice(5, 7) + d.slice(8, 10) + 'T' + d.slice(11, 13) + d.slice(14, 16) + d.slice(17, 19);
}

/**
 * A DdiDeployment (from deploymentBase or confirmationBase) as a release. Throws
 * `MANIFEST_INVALID` naming what this device cannot take: a missing field, or more than the one
 * image its inactive slot holds.
 */
function parseDeployment(dep: Json): Release {
  const artifacts: { chunk: Json; artifact: Json }[] = [];
  for (const c of list(dep.chunks)) {
    const chunk = obj(c) ?? bad('deployment.chunks', 'holds something that is not a chunk');
    for (const x of list(chunk.artifacts)) artifacts.push({ chunk, artifact: obj(x) ?? bad('chunks[].artifacts', 'holds something that is not an artifact') });
  }
  if (artifacts.length === 0) bad('deployment.chunks', 'holds no artifact');
  if (artifacts.length > 1) {
    const names = artifacts.map((x) => String(x.chunk.part) + '/' + String(x.artifact.filename)).join(', ');
    bad('deployment.chunks', 'holds ' + artifacts.length + ' artifacts (' + names + '); this device installs one image into its inactive slot per update');
  }
  const { chunk, artifact } = artifacts[0]!;
  // A chunk's version is free text in hawkBit ("2023.05", "v1.2-rc1"): kept as it is.
  if (typeof chunk.version !== 'string' || chunk.version === '') bad('chunks[0].version', 'is missing');
  const size = artifact.size;
  if (typeof size !== 'number' || size <= 0 || size % 1 !== 0) bad('artifacts[0].size', 'must be a whole number of bytes above 0');
  const hashes = obj(artifact.hashes) ?? {};
  const sha256 = isHex(hashes.sha256, 64) ? hashes.sha256.toLowerCase() : null;
  // Older servers and some imported artifacts give SHA-1 and MD5 only: verified with those then.
  const digest = sha256 !== null ? undefined : isHex(hashes.sha1, 40) ? { algorithm: 'sha1' as const, hex: hashes.sha1.toLowerCase() } : isHex(hashes.md5, 32) ? { algorithm: 'md5' as const, hex: hashes.md5.toLowerCase() } : null;
  if (digest === null) bad('artifacts[0].hashes', 'holds no sha256, sha1 or md5');
  const link = href(artifact._links, 'download') ?? href(artifact._links, 'download-http') ?? bad('artifacts[0]._links.download', 'is missing');
  const update = dep.update;
  const hold =
    dep.maintenanceWindow === 'unavailable'
      ? "the hawkBit server's maintenance window is closed"
      : update === 'skip'
        ? 'the hawkBit action is download only (update: skip)'
        : undefined;
  return { version: chunk.version, size, sha256, digest, chunkSize: DEFAULT_CHUNK_SIZE, chunkCrc32: null, url: link, overrideRejected: update === 'forced', installHold: hold };
}

/** What the device needs of hawkBit's I/O. */
export interface HawkbitIo {
  transport: Transport;
  state: StateStore;
  logger: Logger;
  clock: Clock;
}

/** The authorisation header: the gateway token when set, else the device's target token. */
function authHeader(config: OtaConfig): Record<string, string> {
  if (config.hawkbit_gateway_token !== '') return { Authorization: 'GatewayToken ' + config.hawkbit_gateway_token };
  return config.device_token === '' ? {} : { Authorization: 'TargetToken ' + config.device_token };
}

/** Creates the hawkBit adapter. */
export function hawkbitProtocol(config: OtaConfig, io: HawkbitIo, agentVersion: string): Protocol {
  return new HawkbitClient(config, io, agentVersion);
}

/**
 * A DDI client: polls the controller base and follows the links it gets (configData,
 * cancelAction, confirmationBase, deploymentBase), and keeps the open action's feedback.
 */
class HawkbitClient implements Protocol {
  private readonly base: string;
  private readonly auth: Record<string, string>;
  private sleepMs: number | null = null;
  private lastStep = -1;
  /** The open action, cached: progress callbacks and reports must not race on the state file. */
  private cached: OpenAction | null | undefined;

  constructor(
    private readonly config: OtaConfig,
    private readonly io: HawkbitIo,
    private readonly agentVersion: string,
  ) {
    this.base = config.ota_domain + '/' + encodeURIComponent(config.hawkbit_tenant) + '/controller/v1/' + encodeURIComponent(config.device_id);
    this.auth = authHeader(config);
  }

  check(running: { version: string }): Promise<Release | null> {
    return this.poll(running, false);
  }

  async declined(offered: Release, runningVersion: string): Promise<void> {
    const a = await this.openAction();
    // On trial, the offered version is the one running: the action closes at confirmation or rollback.
    if (a === null || a.phase === 'installed') return;
    const same = compareVersions(offered.version, runningVersion) === 'same';
    await this.feedback(a, 'closed', same ? 'success' : 'failure', [same ? offered.version + ' is already running' : 'refused: ' + offered.version + ' is older than the running ' + runningVersion]);
  }

  downloadHeaders(url: string): Record<string, string> {
    return mayCarryCredentials(url, this.config.ota_domain, this.config.trusted_origins) ? this.auth : {};
  }

  progress(received: number, total: number): void {
    const step = Math.floor((received / total) * 10);
    if (step === this.lastStep) return;
    this.lastStep = step;
    this.openAction()
      .then((a) => a && this.intermediate(a, 'downloading: ' + step * 10 + '%', { cnt: step, of: 10 }))
      .catch((e) => this.io.logger.log('WARNING', 'hawkBit progress feedback failed: ' + (e as Error).message));
  }

  /** Polls the controller base while a download runs; `cancelled` is called when the server cancels the action. */
  watch(cancelled: (why: string) => void): () => void {
    let stop = false;
    let timer: () => void = () => undefined;
    const tick = () => {
      timer = this.io.clock.setTimer(() => {
        this.cancelDuringDownload(() => stop)
          .then((id) => {
            if (id === null) return;
            stop = true;
            cancelled('hawkBit cancelled action ' + id + ' during the download');
          })
          .catch((e) => this.io.logger.log('WARNING', 'hawkBit poll during the download failed: ' + (e as Error).message))
          .then(() => {
            if (!stop) tick();
          });
      }, Math.min(this.sleepMs ?? WATCH_MAX_MS, WATCH_MAX_MS));
    };
    tick();
    return () => {
      stop = true;
      timer();
    };
  }

  async report(r: StatusReport): Promise<void> {
    const a = await this.openAction();
    if (a === null) return;
    this.lastStep = -1;
    if (r.stage === 'downloading') await this.intermediate(a, 'downloading ' + r.version);
    else if (r.stage === 'downloaded') await this.intermediate(a, r.version + ' downloaded and verified; installing it waits: ' + (r.reason ?? ''), undefined, 'downloaded', 'success');
    else if (r.stage === 'installed') {
      a.phase = 'installed';
      await this.keep(a);
      await this.feedback(a, 'proceeding', 'none', [r.version + ' installed; rebooting into it on trial']);
    } else if (r.stage === 'confirmed') await this.feedback(a, 'closed', 'success', [r.version + ' running and confirmed']);
    else await this.feedback(a, 'closed', 'failure', [(r.reverted ? 'rolled back: ' : '') + (r.reason ?? 'failed')]);
  }

  suggestedIntervalMs(): number | null {
    return this.sleepMs;
  }

  private async poll(running: { version: string }, again: boolean): Promise<Release | null> {
    const { io, config, auth, base } = this;
    const p = obj(await getJson(io, base, auth));
    if (p === null) throw otaError('HTTP_STATUS', 'check', 'hawkBit does not know controller ' + config.device_id + ' (404 from ' + base + ')', { status: 404 });
    this.sleepMs = parseSleep(obj(obj(p.config)?.polling)?.sleep);
    const links = p._links;
    const configData = href(links, 'configData');
    if (configData !== null) {
      await sendJson(io, 'PUT', configData, auth, { mode: 'merge', data: { firmware_version: running.version, ota_client: this.agentVersion } });
    }
    const cancel = href(links, 'cancelAction');
    if (cancel !== null) {
      await this.cancelAction(cancel);
      return null;
    }
    const confirm = href(links, 'confirmationBase');
    if (confirm !== null) {
      const r = await this.consent(confirm);
      // Consent given: the deployment is offered from the next poll on; take it now.
      return r === 'confirmed' ? (again ? null : this.poll(running, true)) : r;
    }
    const dep = href(links, 'deploymentBase');
    return dep === null ? null : this.deployment(dep);
  }

  /** One poll during a download: the id of the open action when the server cancelled it, else null. */
  private async cancelDuringDownload(stopped: () => boolean): Promise<string | null> {
    const p = await getJson(this.io, this.base, this.auth);
    const link = href(obj(p)?._links, 'cancelAction');
    if (stopped() || link === null) return null;
    const a = await this.openAction();
    await this.cancelAction(link);
    return a !== null && (await this.openAction()) === null ? a.id : null;
  }

  private async openAction(): Promise<OpenAction | null> {
    if (this.cached !== undefined) return this.cached;
    const text = await this.io.state.read(ACTION);
    this.cached = null;
    if (text !== null) {
      try {
        const a = JSON.parse(text) as OpenAction;
        if (typeof a.id === 'string' && typeof a.feedback === 'string') this.cached = Object.assign({ phase: 'download', downloadOnly: false, sent: [] }, a);
      } catch (e) {
        this.io.logger.log('WARNING', 'hawkBit: ' + ACTION + ' is unreadable; the open action is forgotten');
      }
    }
    return this.cached;
  }

  private async keep(a: OpenAction | null): Promise<void> {
    this.cached = a;
    if (a === null) await this.io.state.remove(ACTION);
    else await this.io.state.write(ACTION, JSON.stringify(a));
  }

  /** POSTs a DdiActionFeedback: `time` for hawkBit before 0.7, `timestamp` for 0.7 and later (each ignores the other). */
  private post(url: string, id: string, execution: string, finished: string, details: string[], progress?: { cnt: number; of: number }): Promise<number> {
    const result: Json = { finished };
    if (progress) result.progress = progress;
    const now = this.io.clock.date();
    return sendJson(this.io, 'POST', url, this.auth, { id, time: legacyTime(now), timestamp: now, status: { execution, result, details } }, [410]);
  }

  /** Feedback on the open action; 410 (no longer active) forgets it, as does `closed`. */
  private async feedback(a: OpenAction, execution: string, finished: string, details: string[], progress?: { cnt: number; of: number }): Promise<void> {
    const status = await this.post(a.feedback, a.id, execution, finished, details, progress);
    if (status === 410) this.io.logger.log('WARNING', 'hawkBit action ' + a.id + ' is no longer active (410); forgetting it');
    if (status === 410 || execution === 'closed' || (execution === 'downloaded' && a.downloadOnly)) await this.keep(null);
  }

  /**
   * An intermediate feedback (`proceeding`, `downloaded`), unless it was sent on this action
   * before or the action had its share: each is a status entry hawkBit keeps.
   */
  private async intermediate(a: OpenAction, detail: string, progress?: { cnt: number; of: number }, execution = 'proceeding', finished = 'none'): Promise<void> {
    if (a.sent.indexOf(detail) >= 0 || a.sent.length >= MAX_PROCEEDING) return;
    a.sent.push(detail);
    await this.keep(a);
    await this.feedback(a, execution, finished, [detail], progress);
  }

  /**
   * The release a deployment offers. One this device cannot take is refused with `refuse`, which
   * tells the server why (an action left open would stay open for good), and the error is thrown.
   */
  private async release(dep: Json, refuse: (why: string) => Promise<unknown>): Promise<Release> {
    try {
      return parseDeployment(dep);
    } catch (e) {
      const why = (e as Error).message;
      await refuse(why).catch((f: Error) => this.io.logger.log('WARNING', 'hawkBit: could not refuse the deployment: ' + f.message));
      throw e;
    }
  }

  /** Remembers `id` as the open action (keeping what was already sent on it). */
  private async track(id: string, feedbackUrl: string, version: string, downloadOnly: boolean): Promise<void> {
    const old = await this.openAction();
    if (old !== null && old.id === id) return;
    await this.keep({ id, feedback: feedbackUrl, version, phase: 'download', downloadOnly, sent: [] });
  }

  private async deployment(url: string): Promise<Release | null> {
    const d = obj(await getJson(this.io, url, this.auth));
    if (d === null) return null; // 404: the action is being cancelled or waits for consent
    if (typeof d.id !== 'string' && typeof d.id !== 'number') bad('id', 'is missing');
    const id = String(d.id);
    const dep = obj(d.deployment) ?? bad('deployment', 'is missing');
    if (dep.download === 'skip') return null; // the server wants nothing done yet
    const feedbackUrl = withoutQuery(url) + '/feedback';
    const r = await this.release(dep, async (why) => {
      await this.post(feedbackUrl, id, 'closed', 'failure', [why]);
      if ((await this.openAction())?.id === id) await this.keep(null);
    });
    await this.track(id, feedbackUrl, r.version, dep.update === 'skip' && dep.maintenanceWindow === undefined);
    return r;
  }

  /** A cancel the server asks for: accepted before the install, `rejected` once it has started. */
  private async cancelAction(url: string): Promise<void> {
    const c = obj(await getJson(this.io, url, this.auth));
    if (c === null) return;
    const stopId = String(obj(c.cancelAction)?.stopId ?? c.id ?? '');
    const feedbackUrl = withoutQuery(url) + '/feedback';
    const a = await this.openAction();
    if (a !== null && a.id === stopId && a.phase === 'installed') {
      this.io.logger.log('WARNING', 'hawkBit asks to cancel action ' + stopId + ', but ' + a.version + ' is already installed: cancel rejected');
      await this.post(feedbackUrl, stopId, 'rejected', 'success', [a.version + ' is installed and on trial; the update can no longer be cancelled']);
      return;
    }
    this.io.logger.log('INFO', 'hawkBit cancelled action ' + stopId + '; nothing is installed for it');
    await this.post(feedbackUrl, stopId, 'closed', 'success', ['cancelled before the install; nothing was installed']);
    if (a !== null && a.id === stopId) await this.keep(null);
  }

  /** An action that needs the user's consent: answered from the consent store, or offered as pending. */
  private async consent(url: string): Promise<Release | 'confirmed' | null> {
    const { io, config, auth } = this;
    const c = obj(await getJson(io, url, auth));
    if (c === null) return null;
    const id = String(c.id ?? '');
    const feedbackUrl = withoutQuery(url) + '/feedback';
    const answer = (confirmation: string, why: string) => sendJson(io, 'POST', feedbackUrl, auth, { confirmation, details: [why] }, [404, 410]);
    const dep = obj(c.confirmation) ?? bad('confirmation', 'is missing');
    // One this device cannot install is denied, with why: hawkBit takes no other feedback while it waits.
    const r = await this.release(dep, (why) => answer('denied', why));
    const given = config.hawkbit_auto_consent ? { answer: 'confirmed' as const, action: id } : await readConsent(io.state);
    if (given === null || (given.action !== undefined && given.action !== id) || (given.answer === 'denied' && given.action === id)) {
      return Object.assign(r, { consent: { action: id, denied: given !== null && given.action === id } });
    }
    const status = await answer(given.answer, config.hawkbit_auto_consent ? 'consent given by hawkbit_auto_consent' : 'consent ' + given.answer + ' on the device');
    io.logger.log('INFO', 'hawkBit action ' + id + ': consent ' + given.answer + (status === 200 ? '' : ' (the server answered ' + status + ')'));
    if (given.answer === 'denied') await keepDenial(io.state, id);
    else if (!config.hawkbit_auto_consent) await clearConsent(io.state);
    return given.answer === 'confirmed' ? 'confirmed' : Object.assign(r, { consent: { action: id, denied: true } });
  }
}
