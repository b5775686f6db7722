/**
 * hawkBit's DDI API as the real server answers it (test/helpers/hawkbit-server.ts is rebuilt from
 * eclipse-hawkbit/hawkbit's DdiRootController) and as the clients people use behave
 * (rauc-hawkbit-updater src/hawkbit-client.c, SWUpdate suricatta/server_hawkbit.c): docs/protocol.md
 * has the table of behaviours and the test for each.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileSlots } from '../src/install/file-slots.js';
import type { SlotName, SlotStorage } from '../src/install/slots.js';
import { device, image, runCli, testUpdater, until } from './helpers/fixtures.js';
import { hawkbitServer } from './helpers/hawkbit-server.js';
import { testCa } from './helpers/test-ca.js';

function cfg(url: string, extra: Record<string, unknown> = {}) {
  return { protocol: 'hawkbit', ota_domain: url, device_id: 'dev1', device_token: 'target-token', ...extra };
}

const hex = (alg: string, b: Buffer) => createHash(alg).update(b).digest('hex');

describe('hawkBit: versions and hashes', () => {
  it('installs a free-text version verified by SHA-1 when no SHA-256 is given, and says which hash verified it', async () => {
    const hb = await hawkbitServer();
    const fw = image(70_000, 11);
    const a = hb.assign('2023.05', fw, { modules: [{ part: 'os', version: '2023.05', name: 'fw', artifacts: [{ filename: 'fw.bin', data: fw, omit: ['sha256'] }] }] });
    const { updater, lines } = testUpdater(cfg(hb.url), await device('2023.04'));
    expect(await updater.checkForUpdates()).toMatchObject({ status: 'updated', version: '2023.05', from: '2023.04' });
    expect(lines.map((l) => l.message)).toContain('Image verified: SHA-1 ' + hex('sha1', fw) + ' (the server published no SHA-256)');
    await updater.boot();
    await updater.confirm();
    expect(hb.feedbackOn(a).at(-1)).toBe('closed/success');
  });

  it('falls back to MD5, and refuses an image whose digest does not match', async () => {
    const hb = await hawkbitServer();
    const fw = image(20_000, 12);
    hb.assign('2023.06', fw, { modules: [{ part: 'os', version: '2023.06', name: 'fw', artifacts: [{ filename: 'fw.bin', data: fw, omit: ['sha256', 'sha1'] }] }] });
    const { updater, lines } = testUpdater(cfg(hb.url), await device('2023.04'));
    expect((await updater.checkForUpdates()).status).toBe('updated');
    expect(lines.map((l) => l.message)).toContain('Image verified: MD5 ' + hex('md5', fw) + ' (the server published no SHA-256)');
    const bad = await hawkbitServer();
    const b = bad.assign('2023.07', fw, { modules: [{ part: 'os', version: '2023.07', name: 'fw', artifacts: [{ filename: 'fw.bin', data: fw, omit: ['sha256'] }] }] });
    b.modules[0]!.artifacts[0]!.served = image(20_000, 13);
    const r = await testUpdater(cfg(bad.url), await device('2023.04')).updater.checkForUpdates();
    expect(r.status === 'failed' && r.error.code).toBe('DIGEST_MISMATCH');
    expect(bad.feedbackOn(b).at(-1)).toBe('closed/failure');
  });

  it('computes the SHA-1 as the image arrives: the slot is not read back after the download', async () => {
    const hb = await hawkbitServer();
    const fw = image(70_000, 14);
    hb.assign('2023.08', fw, { modules: [{ part: 'os', version: '2023.08', name: 'fw', artifacts: [{ filename: 'fw.bin', data: fw, omit: ['sha256'] }] }] });
    const stateDir = await device('2023.04');
    const base = fileSlots(join(stateDir, 'slots'));
    let readBack = 0;
    const slots: SlotStorage = Object.assign({}, base, {
      read(slot: SlotName, offset: number, length: number, into?: Uint8Array) {
        if (slot === 'b') readBack += length;
        return base.read(slot, offset, length, into);
      },
    });
    const { updater, lines } = testUpdater(cfg(hb.url), stateDir, { slots });
    expect((await updater.checkForUpdates()).status).toBe('updated');
    expect(lines.map((l) => l.message)).toContain('Image verified: SHA-1 ' + hex('sha1', fw) + ' (the server published no SHA-256)');
    expect(readBack).toBe(0);
  });

  it('refuses a SHA-1-only release before downloading it on a platform without SHA-1', async () => {
    const hb = await hawkbitServer();
    const fw = image(20_000, 16);
    hb.assign('2023.10', fw, { modules: [{ part: 'os', version: '2023.10', name: 'fw', artifacts: [{ filename: 'fw.bin', data: fw, omit: ['sha256'] }] }] });
    const r = await testUpdater(cfg(hb.url), await device('2023.04'), { digest: undefined }).updater.checkForUpdates();
    expect(r.status === 'failed' && r.error).toMatchObject({ code: 'DIGEST_MISMATCH', message: expect.stringContaining('published with SHA-1 only, which this platform cannot compute') });
    expect(hb.artifactRanges).toEqual([]);
  });

  it('resumes a SHA-1 download in a later check and still verifies the whole image', async () => {
    const hb = await hawkbitServer();
    const fw = image(400_000, 15);
    hb.assign('2023.09', fw, { modules: [{ part: 'os', version: '2023.09', name: 'fw', artifacts: [{ filename: 'fw.bin', data: fw, omit: ['sha256'] }] }] });
    hb.slowArtifact = 10_000; // half the artifact, then a pause in which the check is stopped
    const stateDir = await device('2023.04');
    const first = testUpdater(cfg(hb.url), stateDir).updater;
    const run = first.checkForUpdates();
    await until('the download to start', () => hb.artifactRanges.length === 1);
    await new Promise((r) => setTimeout(r, 300)); // the first half written
    await first.stop();
    expect((await run).status).toBe('failed');
    // As a background sync after three chunks would have left it (they sync every 32 MiB).
    const journal = join(stateDir, 'download.json');
    writeFileSync(journal, JSON.stringify({ ...JSON.parse(readFileSync(journal, 'utf8')), synced: 3 }));
    hb.slowArtifact = 0;
    const { updater, lines } = testUpdater(cfg(hb.url), stateDir);
    expect((await updater.checkForUpdates()).status).toBe('updated');
    expect(hb.artifactRanges[1]).toBe('bytes=' + 3 * 65536 + '-');
    expect(lines.map((l) => l.message)).toContain('Image verified: SHA-1 ' + hex('sha1', fw) + ' (the server published no SHA-256)');
  });
});

describe('hawkBit: the action through the update', () => {
  it('sends downloaded for a download-only action, which closes it, and installs nothing', async () => {
    const hb = await hawkbitServer();
    const a = hb.assign('1.4.0', image(30_000, 3), { type: 'downloadonly' });
    const { updater } = testUpdater(cfg(hb.url), await device('1.3.0'));
    expect(await updater.checkForUpdates()).toMatchObject({ status: 'deferred', reason: 'the hawkBit action is download only (update: skip)' });
    expect(hb.feedbackOn(a).at(-1)).toBe('downloaded/success');
    expect(a.status).toBe('downloaded');
    expect((await updater.status()).version).toBe('1.3.0');
  });

  it('notices a cancel during the download (polling while it runs) and installs nothing', async () => {
    const hb = await hawkbitServer({ sleep: '00:00:01' });
    hb.slowArtifact = 10_000; // the artifact stalls halfway; the cancel must cut it short
    const a = hb.assign('1.4.0', image(200_000, 5));
    const { updater } = testUpdater(cfg(hb.url), await device('1.3.0'));
    const run = updater.checkForUpdates();
    await until('the download to start', () => hb.artifactRanges.length === 1);
    hb.cancel(a);
    const r = await run;
    expect(r.status === 'failed' && r.error).toMatchObject({ code: 'STOPPED', message: 'hawkBit cancelled action ' + a.id + ' during the download' });
    expect(a.status).toBe('canceled');
    expect(hb.feedback.at(-1)).toMatchObject({ on: 'cancel ' + a.id, execution: 'closed', finished: 'success' });
    expect(hb.feedbackOn(a)).not.toContain('closed/failure');
    expect((await updater.status()).version).toBe('1.3.0');
  });

  it('rejects a cancel once the image is installed, keeps the action open through the trial, and closes it only after confirmation', async () => {
    const hb = await hawkbitServer();
    const a = hb.assign('1.4.0', image(40_000, 6));
    const { updater } = testUpdater(cfg(hb.url), await device('1.3.0'));
    expect((await updater.checkForUpdates()).status).toBe('updated');
    await updater.boot(); // the trial boot
    hb.cancel(a);
    expect((await updater.checkForUpdates()).status).toBe('no-firmware');
    expect(hb.feedback.at(-1)).toMatchObject({ on: 'cancel ' + a.id, execution: 'rejected' });
    expect(a.status).toBe('running');
    // A check during the unconfirmed trial closes nothing.
    expect((await updater.checkForUpdates()).status).toBe('up-to-date');
    expect(hb.feedbackOn(a).filter((f) => f.startsWith('closed'))).toEqual([]);
    await updater.confirm();
    expect(hb.feedbackOn(a).at(-1)).toBe('closed/success');
    expect(a.status).toBe('finished');
  });

  it('reports a rollback after a check during the trial as a failure', async () => {
    const hb = await hawkbitServer();
    const a = hb.assign('1.4.0', image(40_000, 7));
    const { updater } = testUpdater(cfg(hb.url), await device('1.3.0'));
    await updater.checkForUpdates();
    await updater.boot();
    expect((await updater.checkForUpdates()).status).toBe('up-to-date');
    await updater.revert('health check failed');
    expect(hb.feedbackOn(a).at(-1)).toBe('closed/failure');
    expect(hb.feedback.at(-1)!.details[0]).toBe('rolled back: health check failed');
    expect(a.status).toBe('error');
  });

  it('refuses several artifacts with closed/failure naming them', async () => {
    const hb = await hawkbitServer();
    const a = hb.assign('1.4.0', image(1000), {
      modules: [
        { part: 'os', version: '1.4.0', name: 'os', artifacts: [{ filename: 'rootfs.img', data: image(1000, 1) }] },
        { part: 'bApp', version: '7', name: 'app', artifacts: [{ filename: 'app.tar', data: image(1000, 2) }] },
      ],
    });
    const r = await testUpdater(cfg(hb.url), await device('1.3.0')).updater.checkForUpdates();
    const why = 'hawkBit deployment field "deployment.chunks" holds 2 artifacts (os/rootfs.img, bApp/app.tar); this device installs one image into its inactive slot per update';
    expect(r.status === 'failed' && r.error.message).toBe(why);
    expect(hb.feedback.at(-1)).toMatchObject({ on: 'deployment ' + a.id, execution: 'closed', finished: 'failure', details: [why] });
    expect(hb.artifactRanges).toEqual([]);
  });

  it('sends no proceeding flood: the same message is not repeated while an install waits', async () => {
    const hb = await hawkbitServer();
    const a = hb.assign('1.4.0', image(300_000, 8), { maintenance: 'unavailable' });
    const { updater } = testUpdater(cfg(hb.url), await device('1.3.0'));
    for (let i = 0; i < 20; i++) expect((await updater.checkForUpdates()).status).toBe('deferred');
    // downloading + progress steps (at most 11) + downloaded, once: not 20 times over.
    expect(a.statusEntries).toBeLessThanOrEqual(14);
    expect(hb.feedbackOn(a).filter((f) => f === 'downloaded/success')).toHaveLength(1);
  });
});

describe('hawkBit: user consent (confirmationBase)', () => {
  it('tells the application, which gives consent with an API call', async () => {
    const hb = await hawkbitServer();
    const a = hb.assign('1.4.0', image(30_000, 9), { confirm: true });
    const { updater } = testUpdater(cfg(hb.url), await device('1.3.0'));
    const asked: unknown[] = [];
    updater.on('consent-required', (info) => asked.push(info));
    const r = await updater.checkForUpdates();
    expect(r).toMatchObject({ status: 'deferred', latest: '1.4.0' });
    expect(asked).toEqual([{ version: '1.4.0', current: '1.3.0', action: String(a.id), denied: false }]);
    expect(hb.artifactRanges).toEqual([]);
    expect(await updater.consent(true)).toMatchObject({ status: 'updated', version: '1.4.0' });
    expect(hb.feedback[0]).toMatchObject({ on: 'confirmation ' + a.id, execution: 'confirmed' });
  });

  it('takes consent from `ota consent yes`, or from hawkbit_auto_consent, and remembers a denial', async () => {
    const hb = await hawkbitServer();
    hb.assign('1.4.0', image(30_000, 10), { confirm: true });
    const stateDir = await device('1.3.0');
    const { updater } = testUpdater(cfg(hb.url), stateDir);
    expect((await updater.checkForUpdates()).status).toBe('deferred');
    expect((await runCli(['consent', 'yes', '--state-dir', stateDir])).code).toBe(0);
    expect((await updater.checkForUpdates()).status).toBe('updated');

    const auto = await hawkbitServer();
    auto.assign('1.4.0', image(30_000, 10), { confirm: true });
    expect((await testUpdater(cfg(auto.url, { hawkbit_auto_consent: true }), await device('1.3.0')).updater.checkForUpdates()).status).toBe('updated');

    const no = await hawkbitServer();
    const a = no.assign('1.4.0', image(30_000, 10), { confirm: true });
    const d = testUpdater(cfg(no.url), await device('1.3.0'));
    const asked: { denied: boolean }[] = [];
    d.updater.on('consent-required', (info) => asked.push(info));
    await d.updater.checkForUpdates();
    expect(await d.updater.consent(false)).toMatchObject({ status: 'deferred', reason: 'the user denied consent to this update (hawkBit action ' + a.id + ')' });
    await d.updater.checkForUpdates();
    expect(no.feedback.filter((f) => f.execution === 'denied')).toHaveLength(1);
    expect(asked.map((x) => x.denied)).toEqual([false, true, true]);
  });
});

describe('hawkBit: links, authentication, feedback format', () => {
  it('follows the links for every URL, the cancel feedback included', async () => {
    const hb = await hawkbitServer({ linkPrefix: '/proxy' });
    const a = hb.assign('1.4.0', image(20_000, 14));
    const { updater } = testUpdater(cfg(hb.url), await device('1.3.0'));
    expect((await updater.checkForUpdates()).status).toBe('updated');
    const b = hb.assign('1.5.0', image(20_000, 15));
    hb.cancel(b);
    await updater.boot();
    await updater.confirm();
    await updater.checkForUpdates();
    const base = '/DEFAULT/controller/v1/dev1';
    expect(hb.requests.filter((r) => !r.endsWith(' ' + base) && !r.includes(' /proxy/'))).toEqual([]);
    expect(hb.requests).toContain('POST /proxy' + base + '/cancelAction/' + b.id + '/feedback');
    expect(hb.feedbackOn(a).at(-1)).toBe('closed/success');
  });

  it('authenticates with a gateway token, the server registering the unknown controller', async () => {
    const hb = await hawkbitServer({ targets: {}, gatewayToken: 'gw-secret', autoRegister: true });
    const { updater } = testUpdater(cfg(hb.url, { device_id: 'dev9', device_token: '', hawkbit_gateway_token: 'gw-secret' }), await device('1.3.0'));
    expect((await updater.checkForUpdates()).status).toBe('no-firmware');
    expect(hb.registered).toEqual(['dev9']);
    expect(hb.configData).toEqual([{ mode: 'merge', data: { firmware_version: '1.3.0', ota_client: '0.1.0' } }]);
  });

  it('authenticates with a TLS client certificate', async () => {
    const ca = testCa();
    const hb = await hawkbitServer({ targets: { dev1: 'unused' }, tls: { key: ca.key, cert: ca.cert, ca: readFileSync(ca.ca, 'utf8') } });
    hb.assign('1.4.0', image(20_000, 16));
    const settings = cfg(hb.url, { device_token: '', ca_file: ca.ca, client_cert: ca.clientCert, client_key: ca.clientKey });
    expect((await testUpdater(settings, await device('1.3.0')).updater.checkForUpdates()).status).toBe('updated');
    const without = await testUpdater(cfg(hb.url, { device_token: '', ca_file: ca.ca }), await device('1.3.0')).updater.checkForUpdates();
    expect(without.status).toBe('failed');
  });

  it('sends timestamp for hawkBit 0.7 and later, and time for older servers', async () => {
    for (const version of ['0.7', '0.3'] as const) {
      const hb = await hawkbitServer({ version });
      hb.assign('1.4.0', image(10_000, 17));
      await testUpdater(cfg(hb.url), await device('1.3.0')).updater.checkForUpdates();
      const when = hb.feedback[0]!.when;
      if (version === '0.7') expect(typeof when === 'number' && Math.abs(when - Date.now()) < 60_000).toBe(true);
      else expect(String(when)).toMatch(/^\d{8}T\d{6}$/);
    }
  });
});
