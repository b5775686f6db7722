/**
 * Staged rollouts without the console: the device's wave decision, `ota publish --rollout`, the
 * manifest field, its signature, and the console's halt rule.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inRollout, rolloutBucket } from '../src/check/rollout.js';
import { checkManifest } from '../src/check/trust.js';
import { generateKeys, nodeTrust } from '../src/platform/node/trust.js';
import { publish, setRollout } from '../src/server/release-store.js';
import { haltReason, type Rollout } from '../src/server/rollouts.js';
import type { DeviceRecord } from '../src/server/fleet.js';
import { device, image, runCli, serve, tempDir, testUpdater } from './helpers/fixtures.js';
import { fnv1aReference, inWave } from './helpers/rollout-wave.js';


describe('the wave decision', () => {
  it('is FNV-1a of the device id modulo 100, for any id', () => {
    for (let i = 0; i < 3000; i++) {
      const id = 'node-' + i.toString(36) + (i % 7 === 0 ? '_x.y' : '');
      expect(rolloutBucket(id)).toBe(fnv1aReference(id) % 100);
    }
  });

  it('only adds devices as the percentage rises, and 0 % takes none, 100 % all', () => {
    const ids = Array.from({ length: 500 }, (_, i) => 'dev-' + i);
    const pcts = [0, 1, 10, 25, 50, 99, 100];
    for (let i = 1; i < pcts.length; i++) {
      for (const id of ids.filter((x) => inRollout(x, pcts[i - 1]))) expect(inRollout(id, pcts[i])).toBe(true);
    }
    expect(ids.filter((id) => inRollout(id, 0))).toEqual([]);
    expect(ids.filter((id) => inRollout(id, 100))).toEqual(ids);
    expect(ids.filter((id) => inRollout(id, undefined))).toEqual(ids);
    // Spread: about a quarter of 500 ids at 25 %.
    const quarter = ids.filter((id) => inRollout(id, 25)).length;
    expect(quarter).toBeGreaterThan(100);
    expect(quarter).toBeLessThan(150);
  });
});

describe('ota publish --rollout', () => {
  it('writes the percentage into a group manifest and refuses it for a device or out of range', async () => {
    const dir = tempDir();
    const file = join(dir, 'fw.bin');
    writeFileSync(file, image(3000, 3));
    const ok = await runCli(['publish', '--dir', join(dir, 'r'), '--file', file, '--version', '1.1.0', '--group', 'fleet', '--rollout', '25']);
    expect(ok.stdout).toContain('(25 % of it)');
    expect(JSON.parse(readFileSync(join(dir, 'r/v1/ota/group/latest/fleet'), 'utf8')).rollout).toBe(25);
    const device = await runCli(['publish', '--dir', join(dir, 'r'), '--file', file, '--version', '1.1.0', '--device', 'd1', '--rollout', '25']);
    expect(device.stderr).toContain('--rollout applies to a group release');
    const high = await runCli(['publish', '--dir', join(dir, 'r'), '--file', file, '--version', '1.1.0', '--group', 'fleet', '--rollout', '101']);
    expect(high.stderr).toContain('--rollout must be a whole percentage from 0 to 100');
  });
});

describe('a staged rollout without the console', () => {
  it('updates only the devices of the wave from a plain release directory', async () => {
    const dir = tempDir();
    const file = join(dir, 'fw.bin');
    writeFileSync(file, image(20_000, 4));
    expect((await runCli(['publish', '--dir', join(dir, 'r'), '--file', file, '--version', '2.0.0', '--group', 'lab', '--rollout', '40'])).code).toBe(0);
    const server = await serve(join(dir, 'r')); // the static files only: no console
    const ids = ['lab-a', 'lab-b', 'lab-c', 'lab-d', 'lab-e', 'lab-f'];
    expect(ids.some((id) => inWave(id, 40)) && ids.some((id) => !inWave(id, 40))).toBe(true);
    for (const id of ids) {
      const { updater, lines } = testUpdater({ ota_domain: server.url, device_id: id, group_id: 'lab' }, await device('1.0.0'));
      const r = await updater.checkForUpdates();
      if (inWave(id, 40)) expect(r, id).toMatchObject({ status: 'updated', version: '2.0.0' });
      else {
        expect(r, id).toEqual({ status: 'up-to-date', version: '1.0.0', latest: '1.0.0' });
        expect(lines.map((l) => l.message)).toContain('Release 2.0.0 is rolling out to 40 % of the group; this device is not in the wave (running 1.0.0)');
      }
    }
  });

  it('binds the percentage into the signature, and re-signs when the console changes it', async () => {
    const dir = tempDir();
    const keys = generateKeys();
    writeFileSync(join(dir, 'private.pem'), keys.privatePem);
    writeFileSync(join(dir, 'public.pem'), keys.publicPem);
    const file = join(dir, 'fw.bin');
    writeFileSync(file, image(5000, 8));
    const trust = nodeTrust([join(dir, 'public.pem')]);
    const target = { device: 'g-1', group: 'g' };
    const m = await publish({ dir, file, version: '3.0.0', audience: { group: 'g' }, rollout: 10, key: join(dir, 'private.pem') });
    expect(() => checkManifest(m as unknown as { [key: string]: unknown }, trust, target, Date.now())).not.toThrow();
    const widened = Object.assign({}, m, { rollout: 100 }) as unknown as { [key: string]: unknown };
    expect(() => checkManifest(widened, trust, target, Date.now())).toThrow(/no trusted key verifies/);
    await expect(setRollout(dir, 'g', 50)).rejects.toThrow('is signed; changing its rollout needs the signing key');
    const raised = await setRollout(dir, 'g', 50, join(dir, 'private.pem'));
    expect(raised.rollout).toBe(50);
    expect(() => checkManifest(raised as unknown as { [key: string]: unknown }, trust, target, Date.now())).not.toThrow();
  });

  it('refuses a manifest whose rollout is not a whole percentage', async () => {
    const dir = tempDir();
    const file = join(dir, 'fw.bin');
    writeFileSync(file, image(3000, 9));
    await publish({ dir: join(dir, 'r'), file, version: '2.0.0', audience: { group: 'lab' } });
    const path = join(dir, 'r/v1/ota/group/latest/lab');
    writeFileSync(path, JSON.stringify(Object.assign(JSON.parse(readFileSync(path, 'utf8')), { rollout: 150 })));
    const server = await serve(join(dir, 'r'));
    const { updater } = testUpdater({ ota_domain: server.url, device_id: 'lab-a', group_id: 'lab' }, await device('1.0.0'));
    const r = await updater.checkForUpdates();
    expect(r.status === 'failed' && r.error.code).toBe('MANIFEST_INVALID');
    expect(r.status === 'failed' && r.message).toContain('manifest field "rollout" must be a whole percentage from 0 to 100');
  });
});

describe('the halt rule', () => {
  const rollout: Rollout = { group: 'g', version: '2.0.0', sha256: 'x', percent: 100, threshold: 20, halted: null };
  const dev = (id: string, state: DeviceRecord['state'], target = '2.0.0'): DeviceRecord => ({ id, group: 'g', version: '1.0.0', state, target, progress: null, lastSeen: '', lastError: null, codes: [], history: [] });

  it('halts once failed or reverted devices pass the threshold of the wave, not at it', () => {
    const fine = [1, 2, 3, 4].map((i) => dev('d' + i, 'confirmed'));
    expect(haltReason(rollout, fine.concat(dev('d5', 'reverted')))).toBeNull(); // 1 of 5 = 20 %: not above
    expect(haltReason(rollout, fine.concat(dev('d5', 'reverted'), dev('d6', 'failed')))).toBe('2 of 6 devices in the wave failed or reverted 2.0.0 (more than 20 %)');
  });

  it('ignores failures of other versions, other groups, and devices outside the wave', () => {
    const other = dev('d1', 'reverted', '1.9.0');
    const elsewhere = Object.assign(dev('d2', 'reverted'), { group: 'h' });
    expect(haltReason(rollout, [other, elsewhere, dev('d3', 'confirmed')])).toBeNull();
    const outside = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].find((id) => !inRollout(id, 10))!;
    expect(haltReason(Object.assign({}, rollout, { percent: 10 }), [dev(outside, 'reverted')])).toBeNull();
    expect(haltReason(Object.assign({}, rollout, { halted: { at: '', reason: '' } }), [dev('d4', 'reverted')])).toBeNull();
  });
});
