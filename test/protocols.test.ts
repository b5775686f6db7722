/** The IoTaaP and hawkBit adapters end to end over real sockets. */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config/config.js';
import { nodeTransport } from '../src/platform/node/transport.js';
import { systemClock } from '../src/platform/node/platform.js';
import { hawkbitProtocol, parseSleep } from '../src/check/hawkbit.js';
import { memoryState } from '../src/platform/memory-state.js';
import { esp32Image } from './helpers/esp32.js';
import { faultServer } from './helpers/fault-server.js';
import { configFile, device, image, listenLocal, releaseDir, runCli, serve, sha256, testUpdater } from './helpers/fixtures.js';
import { hawkbitServer } from './helpers/hawkbit-server.js';

async function status(stateDir: string) {
  return JSON.parse((await runCli(['device', 'status', '--state-dir', stateDir])).stdout);
}

describe('IoTaaP mode against ota serve', () => {
  it('updates a device: version by semver, size probed, ESP32 image checked by its own SHA-256, token masked in logs', async () => {
    const fw = esp32Image([120_000, 5_000]);
    const server = await serve((await releaseDir('1.0.1', fw, { device: 'esp-1' })).dir);
    const stateDir = await device('1.0.0');
    const cfg = configFile({ protocol: 'iotaap', ota_domain: server.url, device_id: 'esp-1', device_token: 'T0KEN99' });
    const r = await runCli(['device', '--config', cfg, '--state-dir', stateDir, '--once']);
    expect(r.stdout).toContain('updated 1.0.0 -> 1.0.1 (slot b, confirmed)');
    expect(r.stderr).toContain('Image verified: SHA-256 ' + sha256(fw) + ' (computed; the server published none), valid esp32 image');
    expect(r.stderr).not.toContain('T0KEN99');
    expect(await status(stateDir)).toMatchObject({ version: '1.0.1', sha256: sha256(fw), state: 'confirmed' });
  });

  it('masks a token with +/= raw, URL-encoded and base64 on stderr, in the log and in the errors handed out (issue 13)', async () => {
    const token = 'Ab+c/d=Ef9xyz';
    // The base64 form never reaches these outputs here (nothing sends it): config.test.ts checks that the mask takes it.
    const encoded = ['Ab%2Bc%2Fd%3DEf9xyz', 'Ab+c/d=Ef9xyz', Buffer.from(token).toString('base64')];
    const { dir, manifest } = await releaseDir('1.0.1', image(10_000, 2), { device: 'esp-9' });
    rmSync(join(dir, manifest.url)); // the download fails, and its URL carries the token
    const server = await serve(dir);
    const stateDir = await device('1.0.0');
    const cfg = configFile({ protocol: 'iotaap', ota_domain: server.url, device_id: 'esp-9', device_token: token });
    const r = await runCli(['device', '--config', cfg, '--state-dir', stateDir, '--once']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('update failed (HTTP_STATUS)');
    expect(r.stderr).toContain('/download/esp-9***');
    const log = readFileSync(join(stateDir, 'ota.log'), 'utf8');
    const { updater } = testUpdater({ protocol: 'iotaap', ota_domain: server.url, device_id: 'esp-9', device_token: token }, await device('1.0.0'));
    const events: unknown[] = [];
    updater.on('error', (e) => events.push(e));
    const result = await updater.checkForUpdates();
    expect(result.status).toBe('failed');
    const handedOut = inspect([result, events], { depth: 8 });
    for (const form of encoded) for (const [where, text] of Object.entries({ stderr: r.stderr, log, handedOut })) expect(text, where + ' holds ' + form).not.toContain(form);
  });

  it('probes the size with HEAD: a server without Range does not push the image twice (issue 13)', async () => {
    const data = image(4_000_000, 13);
    let written = 0;
    const server = createServer((req, res) => {
      if (req.url!.includes('/latest/')) return void res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"ver":"1.0.1"}');
      // This server ignores Range: every GET answers the whole image.
      res.writeHead(200, { 'Content-Length': data.length });
      res.end(req.method === 'HEAD' ? undefined : data);
    });
    server.on('connection', (socket) => socket.once('close', () => (written += socket.bytesWritten)));
    const url = await listenLocal(server);
    const { updater } = testUpdater({ protocol: 'iotaap', ota_domain: url, device_id: 'dev1' }, await device('1.0.0'));
    expect(await updater.checkForUpdates()).toMatchObject({ status: 'updated', version: '1.0.1' });
    await new Promise<void>((r) => server.close(() => r()));
    expect(written).toBeLessThan(data.length + 16_384);
  });

  it('updates a group member from the group endpoints', async () => {
    const fw = image(60_000, 3);
    const server = await serve((await releaseDir('2.1.0', fw, { group: 'lights' })).dir);
    const stateDir = await device('2.0.0');
    const cfg = configFile({ protocol: 'iotaap', ota_domain: server.url, device_id: 'esp-2', group_id: 'lights', group_token: 'gt' });
    const r = await runCli(['device', '--config', cfg, '--state-dir', stateDir, '--once']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('comes with no checksum and is not an image that carries its own');
    expect(await status(stateDir)).toMatchObject({ version: '2.1.0', sha256: sha256(fw) });
  });

  it('neither reflashes the same version nor downgrades', async () => {
    const same = await serve((await releaseDir('1.0.0', image(1000))).dir);
    expect(await testUpdater({ protocol: 'iotaap', ota_domain: same.url, device_id: 'dev1' }, await device('1.0.0')).updater.checkForUpdates()).toMatchObject({ status: 'up-to-date', version: '1.0.0', latest: '1.0.0' });
    const older = await serve((await releaseDir('0.9.9', image(1000))).dir);
    const r = await testUpdater({ protocol: 'iotaap', ota_domain: older.url, device_id: 'dev1' }, await device('1.0.0')).updater.checkForUpdates();
    expect(r.status === 'failed' && r.error.code).toBe('DOWNGRADE_REFUSED');
  });

  it('resumes with Range, and refuses an answer that is not {"ver": …}', async () => {
    const fw = image(200_000, 5);
    const server = await faultServer({ ver: '1.0.1' }, fw, [{}, { cutAfter: 70_000 }]);
    const { updater } = testUpdater({ protocol: 'iotaap', ota_domain: server.url, device_id: 'dev1', device_token: 'tok' }, await device('1.0.0'));
    expect((await updater.checkForUpdates()).status).toBe('updated');
    // The size probe (HEAD, no Range), the cut download, the resume from the last whole chunk.
    expect(server.ranges).toEqual([undefined, 'bytes=0-', 'bytes=65536-']);
    const odd = await faultServer({ version: '1.0.1' }, fw);
    const r = await testUpdater({ protocol: 'iotaap', ota_domain: odd.url, device_id: 'dev1' }, await device('1.0.0')).updater.checkForUpdates();
    expect(r.status === 'failed' && r.error.message).toContain('expected {"ver": "<version>"}');
  });
});

describe('hawkBit mode against a DDI server', () => {
  function cfg(url: string, extra: Record<string, unknown> = {}) {
    return { protocol: 'hawkbit', ota_domain: url, device_id: 'dev1', device_token: 'target-token', ...extra };
  }

  it('installs a deployment, sends configData and feedback, and closes with success only after confirmation', async () => {
    const hb = await hawkbitServer();
    const fw = image(300_000, 9);
    hb.assign('1.4.0', fw);
    const stateDir = await device('1.3.0');
    const r = await runCli(['device', '--config', configFile(cfg(hb.url)), '--state-dir', stateDir, '--once']);
    expect(r.stdout).toContain('updated 1.3.0 -> 1.4.0 (slot b, confirmed)');
    expect(hb.configData).toEqual([{ mode: 'merge', data: { firmware_version: '1.3.0', ota_client: '0.1.0' } }]);
    const steps = hb.feedback.map((f) => f.execution + '/' + f.finished);
    expect(steps[0]).toBe('proceeding/none');
    expect(steps.at(-1)).toBe('closed/success');
    expect(steps.slice(0, -1).every((x) => x === 'proceeding/none')).toBe(true);
    expect(hb.feedback.some((f) => f.progress !== undefined)).toBe(true);
    expect(hb.feedback.at(-1)!.details).toEqual(['1.4.0 running and confirmed']);
    expect(hb.artifactRanges[0]).toBe('bytes=0-');
    expect(await status(stateDir)).toMatchObject({ version: '1.4.0', sha256: sha256(fw), state: 'confirmed' });
  });

  it('reports a rollback as a failure', async () => {
    const hb = await hawkbitServer();
    hb.assign('1.4.0', image(50_000, 2));
    const stateDir = await device('1.3.0');
    const r = await runCli(['device', '--config', configFile(cfg(hb.url, { health_command: 'exit 1' })), '--state-dir', stateDir, '--once']);
    expect(r.code).toBe(5);
    const last = hb.feedback.at(-1)!;
    expect(last.execution + '/' + last.finished).toBe('closed/failure');
    expect(last.details[0]).toMatch(/^rolled back: health check "exit 1" exited with code 1/);
    expect((await status(stateDir)).slot).toBe('a');
  });

  it('accepts a cancel before download and installs nothing', async () => {
    const hb = await hawkbitServer();
    const a = hb.assign('1.4.0', image(50_000));
    hb.cancel(a);
    const stateDir = await device('1.3.0');
    const { updater } = testUpdater(cfg(hb.url), stateDir);
    expect((await updater.checkForUpdates()).status).toBe('no-firmware');
    expect(hb.feedback).toMatchObject([{ on: 'cancel ' + a.id, execution: 'closed', finished: 'success', details: ['cancelled before the install; nothing was installed'] }]);
    expect(hb.artifactRanges).toEqual([]);
    expect(a.status).toBe('canceled');
  });

  it('closes an action for the version already running, and refuses an older one', async () => {
    const hb = await hawkbitServer();
    hb.assign('1.3.0', image(1000));
    const { updater } = testUpdater(cfg(hb.url), await device('1.3.0'));
    expect((await updater.checkForUpdates()).status).toBe('up-to-date');
    hb.assign('1.2.0', image(1000));
    const older = await updater.checkForUpdates();
    expect(older.status === 'failed' && older.error.code).toBe('DOWNGRADE_REFUSED');
    expect(hb.feedback.map((f) => f.finished + ': ' + f.details[0])).toEqual(['success: 1.3.0 is already running', 'failure: refused: 1.2.0 is older than the running 1.3.0']);
  });

  it('follows the polling sleep, backs off on 429, and survives a 410 on feedback', async () => {
    const hb = await hawkbitServer({ sleep: '00:02:30' });
    const stateDir = await device('1.3.0');
    const { updater, lines } = testUpdater(cfg(hb.url, { auto_update: true, first_check_delay: 3600 }), stateDir);
    expect((await updater.checkForUpdates()).status).toBe('no-firmware');
    const { config } = resolveConfig(cfg(hb.url));
    const ddi = hawkbitProtocol(config, { transport: nodeTransport(), clock: systemClock, state: memoryState(), logger: { log: () => undefined } }, '0.1.0');
    await ddi.check({ version: '1.3.0' });
    expect(ddi.suggestedIntervalMs!()).toBe(150_000);
    expect(parseSleep('00:00:30')).toBe(30_000);
    expect(parseSleep('1:2')).toBeNull();
    hb.pollStatus = 429;
    const r = await updater.checkForUpdates();
    expect(r.status === 'failed' && r.error).toMatchObject({ status: 429, retryable: true, retryAfterMs: 42_000 });
    hb.pollStatus = 0;
    const a = hb.assign('1.4.0', image(20_000));
    expect((await updater.checkForUpdates()).status).toBe('updated');
    a.status = 'error'; // the operator closed it meanwhile
    await updater.boot();
    await updater.confirm();
    expect(lines.map((l) => l.message)).toContain('hawkBit action ' + a.id + ' is no longer active (410); forgetting it');
    updater.stop();
  });

  it('downloads while the maintenance window is closed and installs once it opens', async () => {
    const hb = await hawkbitServer();
    const a = hb.assign('1.4.0', image(40_000, 4), { maintenance: 'unavailable' });
    const stateDir = await device('1.3.0');
    const { updater } = testUpdater(cfg(hb.url), stateDir);
    expect(await updater.checkForUpdates()).toMatchObject({ status: 'deferred', latest: '1.4.0', reason: "the hawkBit server's maintenance window is closed" });
    a.maintenance = 'available';
    expect((await updater.checkForUpdates()).status).toBe('updated');
    expect(hb.artifactRanges.length).toBe(1); // the second check found the image already verified in the slot
  });

  it('refuses a deployment with a malformed field, naming it, and closes its action with failure', async () => {
    const hb = await hawkbitServer();
    hb.assign('1.4.0', image(1000), { modules: [{ part: 'os', version: '', name: 'firmware', artifacts: [{ filename: 'f.bin', data: image(1000) }] }] });
    const r = await testUpdater(cfg(hb.url), await device('1.3.0')).updater.checkForUpdates();
    expect(r.status === 'failed' && r.error.message).toBe('hawkBit deployment field "chunks[0].version" is missing');
    // Refused with closed/failure: an action left open would stay open for good.
    expect(hb.feedback.at(-1)).toMatchObject({ execution: 'closed', finished: 'failure', details: ['hawkBit deployment field "chunks[0].version" is missing'] });
  });
});
