/**
 * Power cuts at every point of a whole update, on file slots, on raw slots booted by U-Boot and
 * on raw slots booted by GRUB. One run is recorded (test/helpers/power-cut.ts): boot, check,
 * download cut by the network and resumed by the next check, install, switch, reboot, trial
 * boot, confirm; then a second update whose health check fails, revert and reboot. For every
 * operation that changes the disk, the disk a power cut just before it leaves is rebuilt three
 * ways (only what fsync made durable; the same with the interrupted write torn; everything the
 * page cache held, as after a kill) and the board is powered on again until it settles. Cut
 * points that leave the same disk share one restart.
 *
 * Every one must: hold a readable boot state whose confirmed slot (and trial slot) is intact, a
 * journal that claims no chunk the slot does not durably hold; then boot only slots that hold
 * what the agent says they hold, end on 1.1.0 confirmed with 1.2.0 rejected, and fetch again
 * nothing that was durable (only what the cut lost).
 */
import { describe, expect, it } from 'vitest';
import { CHUNK, IMAGES, makeBoard, powerOn, releases, type Board, type Flavour } from './helpers/cut-board.js';
import type { CrashKind } from './helpers/power-cut.js';
import { sha256 } from './helpers/fixtures.js';

/** Chunks of `version`'s image at the start of `content` (what a resume can keep). */
function leadingChunks(content: Buffer, version: string): number {
  const img = IMAGES[version]!;
  let n = 0;
  while (n * CHUNK < img.length) {
    const end = Math.min((n + 1) * CHUNK, img.length);
    if (content.length < end || !content.subarray(n * CHUNK, end).equals(img.subarray(n * CHUNK, end))) break;
    n++;
  }
  return n;
}

/** Checks the disk a cut left; returns, per version being downloaded, the chunks its slot durably holds. */
async function checkDisk(board: Board, where: string): Promise<Record<string, number>> {
  const store = board.store();
  const text = await store.read('boot.json');
  expect(text, where + ': the boot state is gone').not.toBeNull();
  const boot = JSON.parse(text!);
  for (const s of [boot.confirmed, boot.trial].filter((x) => x !== null) as ('a' | 'b')[]) {
    const img = boot.slots[s];
    expect(img, where + ': slot ' + s + ' is to boot but holds no image').not.toBeNull();
    expect(sha256(board.content(s).subarray(0, img.size)), where + ': slot ' + s + ' does not hold ' + img.version).toBe(img.sha256);
  }
  const kept: Record<string, number> = {};
  const journal = await store.read('download.json');
  if (journal !== null) {
    const j = JSON.parse(journal);
    const version = Object.keys(IMAGES).find((v) => sha256(IMAGES[v]!) === j.image)!;
    const lead = leadingChunks(board.content(j.slot), version);
    expect(j.synced, where + ': the journal claims ' + j.synced + ' chunks of ' + version + ' but slot ' + j.slot + ' durably holds ' + lead).toBeLessThanOrEqual(lead);
    kept[version] = lead;
  }
  return kept;
}

async function everyCut(flavour: Flavour) {
  const server = await releases();
  const board = await makeBoard(flavour);
  const recorded = await powerOn(board, { record: true, server, cutAt: 2500 });
  expect(recorded.status).toMatchObject({ version: '1.1.0', state: 'reverted' });
  expect(recorded.boots).toContain('1.2.0');

  const points = board.cutPoints();
  const disks = new Set<string>();
  const memo = new Map();
  let states = 0;
  for (const cut of points) {
    for (const kind of ['durable', 'torn', 'cache'] as CrashKind[]) {
      const disk = board.crash(cut, kind);
      if (disk === null) continue;
      states++;
      if (disks.has(disk.digest)) continue;
      disks.add(disk.digest);
      disk.restore();
      const where = flavour + ': cut before operation ' + cut + ' (' + board.describe(cut) + ', ' + kind + ')';
      const kept = await checkDisk(board, where);
      const after = await powerOn(board, { server, memo });
      expect(after.status, where).toMatchObject({ version: '1.1.0', state: 'reverted' });
      // Nothing durable is fetched again (on flash, a torn chunk cannot be rewritten: that download starts over).
      if (!(flavour === 'espruino' && kind === 'torn')) {
        for (const v of Object.keys(kept)) expect(after.fetched[v] ?? 0, where + ': fetched ' + v + ' again beyond what the cut lost').toBeLessThanOrEqual(IMAGES[v]!.length - kept[v]! * CHUNK);
      }
    }
  }
  console.log('memo', (globalThis as any).memoHits, 'boots', (globalThis as any).bootsRun); (globalThis as any).memoHits = 0; (globalThis as any).bootsRun = 0;
  console.log('power cuts, ' + flavour + ': ' + points.length + ' cut points, ' + states + ' crash states, ' + disks.size + ' distinct disks restarted, all consistent');
  return { points: points.length, states, disks: disks.size };
}

describe('power cuts at every point of an update', () => {
  for (const flavour of ['file', 'uboot', 'grub', 'espruino'] as Flavour[]) {
    it(flavour + ': every cut ends on a bootable, consistent slot and the update finishes', { timeout: 120_000 }, async () => {
      const r = await everyCut(flavour);
      expect(r.points).toBeGreaterThan(50);
    });
  }
});
