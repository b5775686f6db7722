/**
 * The releases the console lists: those uploaded through it (with their notes, the last
 * {@link MAX_HISTORY} kept in one JSON file), and the latest manifest of every device and group,
 * however it was published (`ota publish` included).
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Manifest } from '../check/release.js';
import { fileWriter, readJsonFile, type FileWriter } from './atomic-file.js';
import { isSafeId, readManifest, type Audience } from './release-store.js';

/** Most releases kept in the history. */
const MAX_HISTORY = 500;

/** A release as the console lists it. */
export interface ReleaseEntry {
  device?: string;
  group?: string;
  ver: string;
  size: number;
  sha256: string;
  published: string;
  notes: string;
  rollout?: number;
  /** The latest release of its target: what devices get now. */
  current: boolean;
}

/** The entry for a published manifest. */
function entryOf(m: Manifest, audience: Audience, notes: string): ReleaseEntry {
  const e: ReleaseEntry = Object.assign({ ver: m.ver, size: m.size, sha256: m.sha256, published: m.published ?? '', notes, current: true }, audience);
  if (m.rollout !== undefined) e.rollout = m.rollout;
  return e;
}

/** The release list of a release directory. */
export class ReleaseList {
  private history: ReleaseEntry[] = [];
  private readonly writer: FileWriter;

  constructor(
    private readonly dir: string,
    private readonly file: string,
  ) {
    this.writer = fileWriter(file);
  }

  async load(): Promise<void> {
    this.history = await readJsonFile<ReleaseEntry[]>(this.file, []);
  }

  /** Records a release published through the console. */
  async add(m: Manifest, audience: Audience, notes: string): Promise<ReleaseEntry> {
    const entry = entryOf(m, audience, notes);
    this.history = [entry].concat(this.history).slice(0, MAX_HISTORY);
    await this.writer.write(JSON.stringify(this.history, null, 1) + '\n');
    return entry;
  }

  /** History and latest manifests, newest first; `current` marks what devices get now. */
  async list(): Promise<ReleaseEntry[]> {
    const out = this.history.map((e) => Object.assign({}, e, { current: false }));
    for (const kind of ['device', 'group'] as const) {
      const ids = await readdir(join(this.dir, 'v1/ota', kind, 'latest')).catch(() => [] as string[]);
      for (const id of ids.filter(isSafeId)) {
        const audience: Audience = kind === 'device' ? { device: id } : { group: id };
        const m = await readManifest(this.dir, audience).catch(() => null);
        if (m === null) continue;
        const same = out.find((e) => e[kind] === id && e.sha256 === m.sha256 && e.ver === m.ver);
        if (same === undefined) out.push(entryOf(m, audience, ''));
        else {
          same.current = true;
          // The percentage as it is now: raised, lowered or halted since the upload.
          if (m.rollout !== undefined) same.rollout = m.rollout;
        }
      }
    }
    return out.sort((a, b) => (a.published < b.published ? 1 : -1));
  }

  flushed(): Promise<void> {
    return this.writer.flushed();
  }
}
