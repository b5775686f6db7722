/**
 * Power loss during a download: a child process running the update is killed with SIGKILL at
 * deterministic pseudo-random points; the next run must finish the update, re-fetching no more
 * than one chunk of what the killed run had received.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { faultServer } from './helpers/fault-server.js';
import { device, image, manifestFor, sha256, tempDir } from './helpers/fixtures.js';

const CHILD = fileURLToPath(new URL('./helpers/update-child.mjs', import.meta.url));
const SIZE = 1024 * 1024;
const CHUNK = 16 * 1024;
const KILLS = 32;

function child(url: string, stateDir: string, killAt: number | '-', killedAt: string) {
  return new Promise<{ signal: string | null; code: number | null; stdout: string }>((resolve) => {
    const p = execFile(process.execPath, [CHILD, url, stateDir, String(killAt), killedAt], { timeout: 30000 }, (_e, stdout) =>
      resolve({ signal: p.signalCode, code: p.exitCode, stdout }),
    );
  });
}

/** Kill points: a seeded generator over the whole image, plus both ends. */
function killPoints(): number[] {
  let x = 20261126;
  const points = [1, SIZE];
  while (points.length < KILLS) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    points.push(1 + (x % SIZE));
  }
  return points;
}

describe('power loss during a download', () => {
  it('finishes after a SIGKILL at ' + KILLS + ' points, re-fetching at most one chunk each time', { timeout: 120_000 }, async () => {
    const data = image(SIZE, 123);
    const m = await manifestFor(data, CHUNK);
    const refetched: number[] = [];
    for (const killAt of killPoints()) {
      const server = await faultServer(m, data);
      const stateDir = await device('1.0.0');
      const killedAtFile = join(tempDir(), 'killed-at');

      const first = await child(server.url, stateDir, killAt, killedAtFile);
      expect(first.signal, 'run killed at ' + killAt).toBe('SIGKILL');
      const received = Number(readFileSync(killedAtFile, 'utf8'));
      const rangesBefore = server.ranges.length;

      const second = await child(server.url, stateDir, '-', killedAtFile);
      expect(second.code, second.stdout).toBe(0);
      expect(JSON.parse(second.stdout)).toMatchObject({ status: 'updated', version: '1.0.3', slot: 'b' });
      expect(sha256(readFileSync(join(stateDir, 'slots/b.bin')))).toBe(m.sha256);

      const resumedAt = server.ranges.length > rangesBefore ? Number(/^bytes=(\d+)-$/.exec(server.ranges[rangesBefore]!)![1]) : SIZE;
      refetched.push(received - resumedAt);
    }
    expect(refetched.length).toBe(KILLS);
    for (const bytes of refetched) {
      expect(bytes).toBeGreaterThanOrEqual(0);
      expect(bytes).toBeLessThan(CHUNK);
    }
  });
});
