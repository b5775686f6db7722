/**
 * Power loss across writing, syncing, switching and confirming: a board process is SIGKILLed just
 * before each of its storage operations in turn. After every kill the slot that boot selection
 * picks holds exactly the image it claims, and the next run finishes the update.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { bootSelect } from '../src/boot/boot-state.js';
import { loadBootState } from '../src/boot/boot-store.js';
import { fileState } from '../src/platform/node/file-state.js';
import { device, image, releaseDir, serve, sha256 } from './helpers/fixtures.js';

const CHILD = fileURLToPath(new URL('./helpers/device-child.mjs', import.meta.url));

function board(url: string, stateDir: string, killAt: number | '-') {
  return new Promise<{ signal: string | null; code: number | null; stdout: string; stderr: string }>((resolve) => {
    const p = execFile(process.execPath, [CHILD, url, stateDir, String(killAt)], { timeout: 30000 }, (_e, stdout, stderr) =>
      resolve({ signal: p.signalCode, code: p.exitCode, stdout, stderr }),
    );
  });
}

/** The slot the bootloader would pick now, and whether it holds what the state says. */
async function bootable(stateDir: string) {
  const s = await loadBootState(fileState(stateDir));
  expect(s).not.toBeNull();
  const next = bootSelect(s!);
  const image = next.slots[next.booted];
  expect(image, 'boot selection picked slot ' + next.booted + ', which holds no image').not.toBeNull();
  const content = readFileSync(join(stateDir, 'slots', next.booted + '.bin')).subarray(0, image!.size);
  return { slot: next.booted, version: image!.version, matches: sha256(content) === image!.sha256 };
}

describe('power loss in the slot writer and boot control', () => {
  it('leaves a bootable, intact slot after a SIGKILL before every storage operation, and the next run finishes', { timeout: 240_000 }, async () => {
    const next = image(768 * 1024, 61);
    const { dir } = await releaseDir('1.1.0', next, { device: 'dev1' }, 16 * 1024);
    const server = await serve(dir);

    const dry = await board(server.url, await device('1.0.0'), '-');
    const { ops, status } = JSON.parse(dry.stdout);
    expect(status).toMatchObject({ slot: 'b', version: '1.1.0', state: 'confirmed' });
    expect(ops).toBeGreaterThanOrEqual(50);

    const outcomes: string[] = [];
    const trial = async (killAt: number) => {
      const stateDir = await device('1.0.0');
      const killed = await board(server.url, stateDir, killAt);
      expect(killed.signal, 'operation ' + killAt + ': ' + killed.stderr).toBe('SIGKILL');
      const b = await bootable(stateDir);
      expect(b.matches, 'operation ' + killAt + ': slot ' + b.slot + ' does not hold ' + b.version).toBe(true);
      outcomes.push(b.version);
      const after = await board(server.url, stateDir, '-');
      expect(after.code, after.stderr).toBe(0);
      expect(JSON.parse(after.stdout).status, 'run after operation ' + killAt).toMatchObject({ slot: 'b', version: '1.1.0', state: 'confirmed' });
      expect(sha256(readFileSync(join(stateDir, 'slots/b.bin')))).toBe(sha256(next));
    };
    const points = Array.from({ length: ops }, (_, i) => i + 1);
    for (let i = 0; i < points.length; i += 2) await Promise.all(points.slice(i, i + 2).map(trial));
    // Kills before the switch leave 1.0.0 bootable; kills after it, 1.1.0.
    expect(outcomes).toContain('1.0.0');
    expect(outcomes).toContain('1.1.0');
    expect(outcomes.length).toBe(ops);
  });
});
