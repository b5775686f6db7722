/** The library API: events, results, concurrency, the module-level checkForUpdates. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JOURNAL } from '../src/download/journal.js';
import { faultServer } from './helpers/fault-server.js';
import { device, freePort, image, manifestFor, onCleanup, releaseDir, serve, sha256, tempDir, testUpdater, until } from './helpers/fixtures.js';

describe('createUpdater', () => {
  it('emits the stages in order and reboots into the new slot after resolving', async () => {
    const fw = image(150_000, 21);
    const { dir } = await releaseDir('1.0.3', fw, { device: 'dev1' }, 8192);
    const server = await serve(dir);
    const stateDir = await device('1.0.2');
    const { updater, reboots } = testUpdater({ ota_domain: server.url, device_id: 'dev1' }, stateDir);
    const events: string[] = [];
    let last = { received: 0, total: 0 };
    for (const name of ['checking', 'update-available', 'up-to-date', 'verified', 'installed', 'rebooting', 'error'] as const) {
      updater.on(name, () => events.push(name));
    }
    updater.on('download-progress', (p) => (last = p));

    const result = await updater.checkForUpdates();
    expect(result).toEqual({ status: 'updated', version: '1.0.3', from: '1.0.2', slot: 'b', rebooting: true });
    expect(reboots).toEqual([]); // the caller hears of the update first
    await new Promise((r) => setTimeout(r, 20));
    expect(reboots).toEqual([{ slot: 'b', version: '1.0.3', reason: 'update' }]);
    expect(events).toEqual(['checking', 'update-available', 'verified', 'installed', 'rebooting']);
    expect(last).toMatchObject({ received: 150_000, total: 150_000 });
    expect(await updater.status()).toMatchObject({ slot: 'a', state: 'confirmed', pending: 'b' });

    expect(await updater.boot()).toMatchObject({ slot: 'b', version: '1.0.3', sha256: sha256(fw), state: 'trial' });
    await updater.confirm();
    expect(await updater.status()).toMatchObject({ slot: 'b', state: 'confirmed', pending: null });
  });

  it('joins concurrent calls into one run', async () => {
    const { dir } = await releaseDir('1.0.3', image(100_000));
    const server = await serve(dir);
    const { updater } = testUpdater({ ota_domain: server.url, device_id: 'dev1' }, await device('1.0.2'));
    const [a, b] = [updater.checkForUpdates(), updater.checkForUpdates()];
    expect(a).toBe(b);
    expect((await a).status).toBe('updated');
    // Installed but not yet rebooted into: no second download, just the reboot again.
    expect(await updater.checkForUpdates()).toMatchObject({ status: 'updated', slot: 'b' });
    expect(server.reports.filter((r) => (r.report as { stage: string }).stage === 'downloading').length).toBe(1);
    await updater.boot();
    expect(await updater.checkForUpdates()).toMatchObject({ status: 'up-to-date', version: '1.0.3' });
  });

  it('never rejects: a server fault is a failed result with what failed and what happens next', async () => {
    const server = await faultServer({}, Buffer.alloc(0));
    const stateDir = await device('1.0.2');
    const { updater, lines } = testUpdater({ ota_domain: server.url.replace(/:\d+$/, ':1'), device_id: 'dev1' }, stateDir);
    let emitted: unknown;
    updater.on('error', (e) => (emitted = e));
    const r = await updater.checkForUpdates();
    expect(r.status).toBe('failed');
    if (r.status !== 'failed') return;
    expect(r.error).toBe(emitted);
    expect(r.error).toMatchObject({ code: 'NETWORK', stage: 'check', retryable: true });
    expect(r.message).toMatch(/^GET http:\/\/127\.0\.0\.1:1\/v1\/ota\/device\/latest\/dev1 failed: connection refused \(is the server running, and are the host and port in ota_domain right\?\); the running firmware 1\.0\.2 \(slot a\) is untouched; call checkForUpdates\(\) to retry$/);
    expect(lines.at(-1)).toEqual({ level: 'ERROR', message: 'Cannot check for updates: ' + r.message });
  });

  it('names the update server as the source of a download URL on another host that refuses, not ota_domain', async () => {
    const data = image(10_000);
    const m = await manifestFor(data);
    const cdn = 'http://127.0.0.1:' + (await freePort()) + '/fw.bin';
    const server = await faultServer({ ...m, url: cdn }, data);
    const { updater } = testUpdater({ ota_domain: server.url, device_id: 'dev1', download_retries: 1, download_retry_delay: 0.01 }, await device('1.0.2'));
    const r = await updater.checkForUpdates();
    expect(r.status === 'failed' && r.message).toContain('GET ' + cdn + ' failed: connection refused (is the server running, and are the host and port in the download URL from the update server right?)');
  });

  it('treats a 4xx from the image server as permanent and a 5xx as retryable', async () => {
    const data = image(10_000);
    const m = await manifestFor(data);
    for (const [status, retryable, requests] of [[403, false, 1], [503, true, 4]] as const) {
      const server = await faultServer(m, data, { status });
      const { updater } = testUpdater({ ota_domain: server.url, device_id: 'dev1', download_retries: 3, download_retry_delay: 0.01 }, await device('1.0.2'));
      const r = await updater.checkForUpdates();
      expect(r.status === 'failed' && r.error).toMatchObject({ code: 'HTTP_STATUS', status, retryable });
      expect(server.ranges.length).toBe(requests);
    }
  });

  it('resumes an interrupted download from the first chunk not yet verified', async () => {
    const data = image(200_000, 31);
    const m = await manifestFor(data);
    const stateDir = await device('1.0.2');
    const cut = await faultServer(m, data, { haveBytes: 100_000 });
    const first = await testUpdater({ ota_domain: cut.url, device_id: 'dev1' }, stateDir).updater.checkForUpdates();
    expect(first.status).toBe('failed');

    const whole = await faultServer(m, data);
    const { updater, lines } = testUpdater({ ota_domain: whole.url, device_id: 'dev1' }, stateDir);
    const second = await updater.checkForUpdates();
    expect(second.status).toBe('updated');
    expect(whole.ranges).toEqual(['bytes=98304-']);
    expect(lines.map((l) => l.message)).toContain('Resuming download at byte 98304 of 200000');
  });

  it('does not trust a journal whose slot content does not match', async () => {
    const data = image(50_000, 41);
    const { dir, manifest } = await releaseDir('1.0.3', data, { device: 'dev1' }, 4096);
    const server = await serve(dir);
    const stateDir = await device('1.0.2');
    writeFileSync(join(stateDir, 'slots/b.bin'), Buffer.alloc(50_000, 0x55));
    writeFileSync(join(stateDir, JOURNAL), JSON.stringify({ image: manifest.sha256, slot: 'b', size: 50_000, chunk_size: 4096, synced: 12 }));
    const { updater, lines } = testUpdater({ ota_domain: server.url, device_id: 'dev1' }, stateDir);
    expect((await updater.checkForUpdates()).status).toBe('updated');
    expect(lines.map((l) => l.message)).toContain('Download journal does not match slot b (chunk 0 is corrupt); starting again from byte 0');
  });

  it('restarts from byte 0 when the server ignores Range', async () => {
    const data = image(60_000, 51);
    const m = await manifestFor(data);
    const stateDir = await device('1.0.2');
    const cut = await faultServer(m, data, { haveBytes: 30_000, ignoreRange: true });
    expect((await testUpdater({ ota_domain: cut.url, device_id: 'dev1' }, stateDir).updater.checkForUpdates()).status).toBe('failed');
    const plain = await faultServer(m, data, { ignoreRange: true });
    const { updater } = testUpdater({ ota_domain: plain.url, device_id: 'dev1' }, stateDir);
    expect((await updater.checkForUpdates()).status).toBe('updated');
    expect(await updater.boot()).toMatchObject({ sha256: m.sha256, state: 'trial' });
  });
});

describe('issue 13: later checks', () => {
  it('a deferred install is not prepared, downloaded, hashed or reported again by the next check', async () => {
    const { dir } = await releaseDir('1.0.3', image(100_000, 5));
    const server = await serve(dir);
    const stateDir = await device('1.0.2');
    const { updater, lines } = testUpdater({ ota_domain: server.url, device_id: 'dev1' }, stateDir);
    const lift = updater.inhibit('recording');
    expect(await updater.checkForUpdates()).toMatchObject({ status: 'deferred', latest: '1.0.3' });
    const bootJson = readFileSync(join(stateDir, 'boot.json'), 'utf8');
    const before = lines.length;
    expect(await updater.checkForUpdates()).toMatchObject({ status: 'deferred', latest: '1.0.3' });
    const again = lines.slice(before).map((l) => l.message);
    expect(again.filter((m) => /Starting update|Downloading|Resuming|Image verified/.test(m))).toEqual([]);
    expect(readFileSync(join(stateDir, 'boot.json'), 'utf8')).toBe(bootJson);
    expect(server.reports.filter((r) => (r.report as { stage: string }).stage === 'downloading').length).toBe(1);
    lift();
    expect(await updater.checkForUpdates()).toMatchObject({ status: 'updated', version: '1.0.3', slot: 'b' });
  });

  it('goes on checking after a reboot that failed, and reboots again', async () => {
    const { dir } = await releaseDir('1.0.3', image(20_000, 6));
    const server = await serve(dir);
    let reboots = 0;
    const { updater } = testUpdater({ ota_domain: server.url, device_id: 'dev1', auto_update: true, first_check_delay: 0, retry_delay: 0.05, check_jitter: 0 }, await device('1.0.2'), {
      reboot: async () => {
        reboots++;
        throw new Error('reboot command failed');
      },
    });
    updater.start();
    onCleanup(() => updater.stop());
    await until('a second reboot', () => reboots >= 2, 5000);
  });
});

describe('module-level checkForUpdates()', () => {
  it('uses default.cfg from $OTA_CONFIG and never rejects on a bad one', async () => {
    const dir = tempDir();
    const cfg = join(dir, 'default.cfg');
    writeFileSync(cfg, JSON.stringify({ ota_domain: 'http://127.0.0.1:1', device_id: 'dev1', firmware_version: '1.0.0' }));
    const script = `import('${join(process.cwd(), 'dist/index.js')}').then(async (m) => console.log(JSON.stringify(await m.checkForUpdates())))`;
    const { execFile } = await import('node:child_process');
    const run = (env: Record<string, string>) =>
      new Promise<string>((resolve) => execFile(process.execPath, ['-e', script], { env: Object.assign({}, process.env, env), cwd: dir }, (_e, out) => resolve(out)));
    const down = JSON.parse(await run({ OTA_CONFIG: cfg }));
    expect(down).toMatchObject({ status: 'failed', error: { code: 'NETWORK' } });
    const { dir: releases } = await releaseDir('1.0.0', image(1000));
    const server = await serve(releases);
    writeFileSync(cfg, JSON.stringify({ ota_domain: server.url, device_id: 'dev1', firmware_version: '1.0.0' }));
    expect(JSON.parse(await run({ OTA_CONFIG: cfg }))).toEqual({ status: 'up-to-date', version: '1.0.0', latest: '1.0.0' });
    const bad = JSON.parse(await run({ OTA_CONFIG: join(dir, 'missing.cfg') }));
    expect(bad.status).toBe('failed');
    expect(bad.message).toContain('missing.cfg does not exist (`ota config init` writes one); nothing was changed');
  });
});
