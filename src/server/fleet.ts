/**
 * What the console knows about each device, learnt from its check-ins, its status reports and its
 * answers to Flash: one small JSON file per device under the console's state directory, rewritten
 * atomically, loaded at start. Everything here came from a device and is treated as text: values
 * are cut to a length and never interpreted.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileWriter, type FileWriter } from './atomic-file.js';
import { isSafeId } from './release-store.js';

/** Where a device stands, as its reports tell. */
export type DeviceState = 'unknown' | 'downloading' | 'trial' | 'confirmed' | 'reverted' | 'failed';

/** One report, as kept in a device's history. */
export interface HistoryEntry {
  at: string;
  stage: string;
  version: string;
  from?: string;
  code?: string;
  reason?: string;
  reverted?: boolean;
}

/** A device as the console shows it. */
export interface DeviceRecord {
  id: string;
  group: string;
  /** The version it runs (from check-ins and confirmations). */
  version: string;
  state: DeviceState;
  /** The version its last report was about (the release being installed, or that failed). */
  target: string;
  progress: { received: number; total: number } | null;
  lastSeen: string;
  lastError: { code: string; reason: string; at: string } | null;
  /** Its latest answers to Flash (IoTaaP codes 200 to 203), newest last. */
  codes: { code: number; at: string }[];
  history: HistoryEntry[];
}

/** Download progress reaches the page at most this often per device. */
const PROGRESS_INTERVAL_MS = 250;

/** Limits that keep one console's memory and disk bounded. */
export const FLEET_LIMITS = { devices: 5000, history: 50, codes: 8, text: 300 };

/** A report field as kept: a string cut to a length, or undefined when absent or not a string. */
function text(v: unknown): string | undefined {
  return typeof v === 'string' ? v.slice(0, FLEET_LIMITS.text) : undefined;
}

/** The device registry. */
export class Fleet {
  private readonly devices: { [id: string]: DeviceRecord } = Object.create(null);
  private readonly writers: { [id: string]: FileWriter } = Object.create(null);
  private count = 0;
  private readonly progressAt: { [id: string]: number } = Object.create(null);

  /** `dir`: where the device files live; `onChange` hears of every change (for the live table). */
  constructor(
    private readonly dir: string,
    private readonly onChange: (device: DeviceRecord) => void,
    private readonly log: (line: string) => void,
  ) {}

  /** Loads the device files written before; unreadable ones are logged and skipped. */
  async load(): Promise<void> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    for (const name of names) {
      if (!name.endsWith('.json') || !isSafeId(name.slice(0, -5))) continue;
      try {
        const d = JSON.parse(await readFile(join(this.dir, name), 'utf8')) as DeviceRecord;
        if (d.id === name.slice(0, -5)) this.put(d);
      } catch (e) {
        this.log('console: skipping unreadable device file ' + name + ': ' + (e as Error).message);
      }
    }
  }

  /** Resolves once every device file is written (before the server stops). */
  async flushed(): Promise<void> {
    await Promise.all(Object.keys(this.writers).map((id) => this.writers[id]!.flushed()));
  }

  /** All devices, without their histories. */
  list(): DeviceRecord[] {
    return Object.keys(this.devices).map((id) => this.summary(this.devices[id]!));
  }

  /** One device with its history, or null. */
  get(id: string): DeviceRecord | null {
    return this.devices[id] ?? null;
  }

  /** The record without its history: what the live table gets. */
  summary(d: DeviceRecord): DeviceRecord {
    return Object.assign({}, d, { history: [] });
  }

  /** A check-in: the device asked for its release, running `version`. */
  checkIn(id: string, group: string, version: string): void {
    this.change(id, (d) => {
      if (group !== '') d.group = group;
      if (version !== '') d.version = version;
    });
  }

  /** A status report (docs/protocol.md); the body is the device's JSON, checked field by field. */
  report(id: string, body: { [key: string]: unknown }): void {
    const at = new Date().toISOString();
    const entry: HistoryEntry = { at, stage: text(body.stage) ?? '', version: text(body.version) ?? '' };
    const from = text(body.from);
    const code = text(body.code);
    const reason = text(body.reason);
    if (from !== undefined) entry.from = from;
    if (code !== undefined) entry.code = code;
    if (reason !== undefined) entry.reason = reason;
    if (body.reverted === true) entry.reverted = true;
    this.change(id, (d) => {
      const group = text(body.group_id);
      if (group !== undefined && isSafeId(group)) d.group = group;
      d.history.push(entry);
      if (d.history.length > FLEET_LIMITS.history) d.history.splice(0, d.history.length - FLEET_LIMITS.history);
      d.target = entry.version;
      if (entry.stage === 'downloading') {
        d.state = 'downloading';
        d.progress = null;
        if (from !== undefined) d.version = from;
      } else if (entry.stage === 'installed') {
        d.state = 'trial';
        d.progress = null;
      } else if (entry.stage === 'confirmed') {
        d.state = 'confirmed';
        d.version = entry.version;
        d.progress = null;
      } else if (entry.stage === 'failed') {
        d.state = entry.reverted ? 'reverted' : 'failed';
        d.progress = null;
        d.lastError = { code: code ?? '', reason: reason ?? '', at };
      }
    });
  }

  /**
   * Download progress as the server sends the image: announced at most every
   * {@link PROGRESS_INTERVAL_MS} and at the end, and not saved (it is stale by the next report).
   */
  progress(id: string, received: number, total: number): void {
    const d = this.devices[id];
    if (d === undefined || d.state !== 'downloading') return;
    const now = Date.now();
    if (received < total && now - (this.progressAt[id] ?? 0) < PROGRESS_INTERVAL_MS) return;
    this.progressAt[id] = now;
    this.change(id, (r) => (r.progress = { received, total }), false);
  }

  /** An answer to Flash on the device's response topic. */
  answer(id: string, code: number): void {
    this.change(id, (d) => {
      d.codes.push({ code, at: new Date().toISOString() });
      if (d.codes.length > FLEET_LIMITS.codes) d.codes.shift();
    });
  }

  private put(d: DeviceRecord): void {
    if (this.devices[d.id] === undefined) this.count++;
    this.devices[d.id] = d;
  }

  /** Applies `update` to a device (created on first contact, within the limit), saves and announces it. */
  private change(id: string, update: (d: DeviceRecord) => void, save = true): void {
    if (!isSafeId(id)) return;
    let d = this.devices[id];
    if (d === undefined) {
      if (this.count >= FLEET_LIMITS.devices) {
        this.log('console: device ' + id + ' ignored: the console keeps at most ' + FLEET_LIMITS.devices + ' devices (see docs/console.md)');
        return;
      }
      d = { id, group: '', version: '', state: 'unknown', target: '', progress: null, lastSeen: '', lastError: null, codes: [], history: [] };
      this.put(d);
    }
    update(d);
    d.lastSeen = new Date().toISOString();
    this.onChange(d);
    if (!save) return;
    const writer = (this.writers[id] ??= fileWriter(join(this.dir, id + '.json')));
    writer.write(JSON.stringify(d)).catch((e: Error) => this.log('console: cannot save device ' + id + ': ' + e.message));
  }
}
