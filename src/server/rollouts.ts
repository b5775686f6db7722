/**
 * Staged rollouts as the console runs them: per group, the release rolling out, its percentage,
 * the failure share that halts it, and whether it was halted. The percentage itself lives in the
 * group's manifest (`rollout`), where devices read it, so static hosting works without the
 * console; this file only remembers what the console needs besides, in one JSON file.
 */
import { inRollout } from '../check/rollout.js';
import { fileWriter, readJsonFile, type FileWriter } from './atomic-file.js';
import type { DeviceRecord } from './fleet.js';

/** One group's rollout. */
export interface Rollout {
  group: string;
  version: string;
  sha256: string;
  /** Share of the group's devices in the wave, 0 to 100. */
  percent: number;
  /** Halt when more than this percentage of the wave's known devices failed or reverted. */
  threshold: number;
  halted: { at: string; reason: string } | null;
}

/** Default halt threshold, in percent. */
export const DEFAULT_HALT_THRESHOLD = 20;

/** How far a rollout got among the devices the console knows. */
export interface RolloutProgress {
  /** Known devices of the group. */
  known: number;
  /** Of these, in the wave. */
  wave: number;
  /** Running the release. */
  updated: number;
  /** In the wave, their last report a failure or a revert of the release. */
  failed: number;
}

/** Counts a rollout's devices. */
export function rolloutProgress(r: Rollout, devices: DeviceRecord[]): RolloutProgress {
  const p: RolloutProgress = { known: 0, wave: 0, updated: 0, failed: 0 };
  for (const d of devices) {
    if (d.group !== r.group) continue;
    p.known++;
    if (d.version === r.version) p.updated++;
    if (!inRollout(d.id, r.percent)) continue;
    p.wave++;
    if ((d.state === 'failed' || d.state === 'reverted') && d.target === r.version) p.failed++;
  }
  return p;
}

/**
 * Why a running rollout must halt, or null: the share of failed or reverted devices among the
 * wave's known devices passed the threshold.
 */
export function haltReason(r: Rollout, devices: DeviceRecord[]): string | null {
  if (r.halted !== null || r.percent === 0) return null;
  const p = rolloutProgress(r, devices);
  if (p.failed === 0 || p.failed * 100 <= r.threshold * p.wave) return null;
  return p.failed + ' of ' + p.wave + ' devices in the wave failed or reverted ' + r.version + ' (more than ' + r.threshold + ' %)';
}

/** The rollouts of all groups, saved in one file. */
export class Rollouts {
  private all: { [group: string]: Rollout } = Object.create(null);
  private readonly writer: FileWriter;

  constructor(private readonly file: string) {
    this.writer = fileWriter(file);
  }

  async load(): Promise<void> {
    for (const r of await readJsonFile<Rollout[]>(this.file, [])) this.all[r.group] = r;
  }

  list(): Rollout[] {
    return Object.keys(this.all).map((g) => this.all[g]!);
  }

  get(group: string): Rollout | null {
    return this.all[group] ?? null;
  }

  /** Records a rollout (a new one, a new percentage, or a halt) and saves the file. */
  async put(r: Rollout): Promise<void> {
    this.all[r.group] = r;
    await this.writer.write(JSON.stringify(this.list(), null, 1) + '\n');
  }

  /** Resolves once the file is written. */
  flushed(): Promise<void> {
    return this.writer.flushed();
  }

  /** Forgets a group's rollout (its latest release went to everyone). */
  async remove(group: string): Promise<void> {
    delete this.all[group];
    await this.writer.write(JSON.stringify(this.list(), null, 1) + '\n');
  }
}
