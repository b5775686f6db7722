/** The whole story over real sockets: `ota serve`, the `ota device` CLI, a simulated board. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configFile, device, image, releaseDir, runCli, serve, sha256, startCli, tempDir } from './helpers/fixtures.js';

async function status(stateDir: string) {
  const r = await runCli(['device', 'status', '--state-dir', stateDir]);
  expect(r.code).toBe(0);
  const { slot, version, sha256, state, pending, intact } = JSON.parse(r.stdout) as { slot: string; version: string; sha256: string; state: string; pending: string | null; intact: boolean };
  // The boot side only: the check record (last_check, next_check, ...) changes with every check.
  return { slot, version, sha256, state, pending, intact };
}

describe('ota device --once against ota serve', () => {
  it('finds, downloads, verifies, installs, reboots into and confirms a newer release', async () => {
    const fw = image(300_000, 7);
    const { dir } = await releaseDir('1.0.3', fw, { device: 'dev1' }, 4096);
    const url = (await startCli(['serve', '--dir', dir, '--port', '0'])).split(' ').pop()!;
    const stateDir = await device('1.0.2');
    const before = await status(stateDir);
    const cfg = configFile({ ota_domain: url, device_id: 'dev1', device_token: 't0k3n', health_command: 'test "$OTA_VERSION" = 1.0.3 && test -s "$OTA_SLOT_PATH"' });

    const r = await runCli(['device', '--config', cfg, '--state-dir', stateDir, '--once']);
    expect(r.stderr).toContain('New update available! 1.0.2 -> 1.0.3');
    expect(r.stdout).toContain('updated 1.0.2 -> 1.0.3 (slot b, confirmed)');
    expect(r.code).toBe(0);

    const after = await status(stateDir);
    expect(after).toMatchObject({ slot: 'b', version: '1.0.3', sha256: sha256(fw), state: 'confirmed', intact: true });
    expect(after.sha256).not.toBe(before.sha256);
    expect(r.stderr).not.toContain('t0k3n');
  });

  it('reports each stage to the server', async () => {
    const { dir } = await releaseDir('2.0.0', image(70_000, 3));
    const server = await serve(dir);
    const stateDir = await device('1.9.9');
    const r = await runCli(['device', '--config', configFile({ ota_domain: server.url, device_id: 'dev1' }), '--state-dir', stateDir, '--once']);
    expect(r.code).toBe(0);
    expect(server.reports.map((x) => (x.report as { stage: string }).stage)).toEqual(['downloading', 'installed', 'confirmed']);
    expect(server.reports[2]!.report).toMatchObject({ device_id: 'dev1', version: '2.0.0' });
  });

  it('says up to date when the server has the running version, and refuses an older one', async () => {
    for (const [published, code, says] of [
      ['1.0.2', 0, 'up to date: running 1.0.2 (latest on the server: 1.0.2)'],
      ['1.0.1', 1, 'update failed (DOWNGRADE_REFUSED): the server offers 1.0.1, older than the running 1.0.2: refused'],
    ] as const) {
      const { dir } = await releaseDir(published, image(10_000, 5));
      const server = await serve(dir);
      const stateDir = await device('1.0.2');
      const before = await status(stateDir);
      const r = await runCli(['device', '--config', configFile({ ota_domain: server.url, device_id: 'dev1' }), '--state-dir', stateDir, '--once']);
      expect(r.code).toBe(code);
      expect(r.stdout + r.stderr).toContain(says);
      expect(await status(stateDir)).toEqual(before);
    }
  });

  it('says no firmware when the server answers 404', async () => {
    const { dir } = await releaseDir('1.0.3', image(10_000), { device: 'someone-else' });
    const server = await serve(dir);
    const stateDir = await device('1.0.2');
    const r = await runCli(['device', '--config', configFile({ ota_domain: server.url, device_id: 'dev1' }), '--state-dir', stateDir, '--once']);
    // A 404 on the device's own manifest is most often a wrong device_id or ota_domain: its own exit code, and a warning naming the URL.
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('no firmware published for this device');
    expect(r.stderr).toContain('[WARNING] - No firmware available at ' + server.url + '/v1/ota/device/latest/dev1 (HTTP 404): check "device_id" and "ota_domain"');
  });

  it('fails clearly and changes nothing when the server is down', async () => {
    const server = await serve(tempDir());
    const url = server.url;
    await server.close();
    const stateDir = await device('1.0.2');
    const before = await status(stateDir);
    const r = await runCli(['device', '--config', configFile({ ota_domain: url, device_id: 'dev1' }), '--state-dir', stateDir, '--once']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('update failed (NETWORK)');
    expect(r.stderr).toContain('failed: connection refused');
    expect(r.stderr).toContain('the running firmware 1.0.2 (slot a) is untouched');
    expect(await status(stateDir)).toEqual(before);
  });

  it('updates a device as a member of its group', async () => {
    const fw = image(50_000, 11);
    const { dir } = await releaseDir('3.1.0', fw, { group: 'kitchen' });
    const server = await serve(dir);
    const stateDir = await device('3.0.0');
    const cfg = configFile({ ota_domain: server.url, device_id: 'dev7', group_id: 'kitchen', group_token: 'g' });
    const r = await runCli(['device', '--config', cfg, '--state-dir', stateDir, '--once']);
    expect(r.code).toBe(0);
    expect(await status(stateDir)).toMatchObject({ version: '3.1.0', sha256: sha256(fw), state: 'confirmed' });
  });

  it('reverts to the previous slot when the health check fails, and never installs that image again', async () => {
    const { dir } = await releaseDir('1.1.0', image(40_000, 13));
    const server = await serve(dir);
    const stateDir = await device('1.0.0');
    const before = await status(stateDir);
    const cfg = configFile({ ota_domain: server.url, device_id: 'dev1', health_command: 'echo app crashed >&2; exit 3' });
    const r = await runCli(['device', '--config', cfg, '--state-dir', stateDir, '--once']);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('did not pass its trial boot');
    expect(r.stderr).toContain('exited with code 3: app crashed');
    const after = await status(stateDir);
    expect(after).toMatchObject({ slot: 'a', version: '1.0.0', sha256: before.sha256, state: 'reverted' });
    expect(server.reports.at(-1)!.report).toMatchObject({ stage: 'failed', reverted: true, version: '1.1.0' });

    const again = await runCli(['device', '--config', cfg, '--state-dir', stateDir, '--once']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('IMAGE_REJECTED');
    expect((await status(stateDir)).slot).toBe('a');

    // The operator insists: republished with the override, the device tries it again.
    const file = join(tempDir(), 'fw.bin');
    writeFileSync(file, image(40_000, 13));
    expect((await runCli(['publish', '--dir', dir, '--file', file, '--version', '1.1.0', '--device', 'dev1', '--override-rejected'])).code).toBe(0);
    const forced = await runCli(['device', '--config', cfg, '--state-dir', stateDir, '--once']);
    expect(forced.stderr).toContain('New update available! 1.0.0 -> 1.1.0');
    expect(forced.stderr).toContain('Booted slot b (1.1.0) on trial');
  });
});
