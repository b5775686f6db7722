/**
 * The threat model of docs/security.md, attack by attack: each is refused with a specific error,
 * nothing is installed, and the result and the log say why.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startServer } from '../src/server/server.js';
import { faultServer } from './helpers/fault-server.js';
import { configFile, device, image, onCleanup, releaseDir, runCli, serve, sha256, tempDir, testUpdater } from './helpers/fixtures.js';
import { testCa } from './helpers/test-ca.js';

async function keys() {
  const dir = tempDir();
  const r = await runCli(['keygen', '--out', dir]);
  expect(r.code).toBe(0);
  return { dir, priv: join(dir, 'ota-private.pem'), pub: join(dir, 'ota-public.pem') };
}

/** A signed release directory for device dev1 (or as `extra` says). */
async function signedRelease(version: string, data: Buffer, key: string, extra: string[] = []) {
  const dir = tempDir();
  const file = join(dir, 'fw.bin');
  writeFileSync(file, data);
  const releases = join(dir, 'releases');
  const r = await runCli(['publish', '--dir', releases, '--file', file, '--version', version, '--device', 'dev1', '--key', key, ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return { releases, manifestPath: join(releases, 'v1/ota/device/latest/dev1') };
}

async function attempt(releasesOrUrl: string, pub: string | string[], settings: Record<string, unknown> = {}, version = '1.0.0') {
  const url = releasesOrUrl.startsWith('http') ? releasesOrUrl : (await serve(releasesOrUrl)).url;
  const stateDir = await device(version);
  const running = readFileSync(join(stateDir, 'slots/a.bin'));
  const t = testUpdater({ ota_domain: url, device_id: 'dev1', public_keys: Array.isArray(pub) ? pub : [pub], ...settings }, stateDir);
  const result = await t.updater.checkForUpdates();
  const untouched = readFileSync(join(stateDir, 'slots/a.bin')).equals(running);
  return { ...t, result, untouched, stateDir };
}

function refused(r: Awaited<ReturnType<typeof attempt>>, code: string, says: string) {
  expect(r.result.status).toBe('failed');
  if (r.result.status !== 'failed') return;
  expect(r.result.error.code).toBe(code);
  expect(r.result.message).toContain(says);
  expect(r.lines.some((l) => l.level === 'ERROR' && l.message.includes(says))).toBe(true);
  expect(r.reboots).toEqual([]);
  expect(r.untouched).toBe(true);
}

describe('signed releases', () => {
  it('installs a release signed by a trusted key', async () => {
    const k = await keys();
    const { releases } = await signedRelease('1.1.0', image(50_000), k.priv);
    const r = await attempt(releases, k.pub);
    expect(r.result.status).toBe('updated');
  });

  it('accepts either key during a rotation', async () => {
    const [oldKey, newKey] = [await keys(), await keys()];
    const { releases } = await signedRelease('1.1.0', image(10_000), newKey.priv);
    expect((await attempt(releases, [oldKey.pub, newKey.pub])).result.status).toBe('updated');
  });

  it('binds an absolute image URL into the signature: another server cannot be named (issue 13)', async () => {
    const k = await keys();
    const fw = image(20_000, 6);
    const { releases, manifestPath } = await signedRelease('1.1.0', fw, k.priv);
    const mirror = await serve(releases);
    const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, unknown>;
    m.url = mirror.url + '/' + String(m.url);
    writeFileSync(manifestPath, JSON.stringify(m));
    refused(await attempt(releases, k.pub), 'SIGNATURE_INVALID', 'has a signature that no trusted key verifies');
    // Signed with the absolute URL in it, the same manifest verifies.
    const { signedPayload } = await import('../src/check/trust.js');
    const { signWith } = await import('../src/platform/node/trust.js');
    m.signature = signWith(k.priv, signedPayload(m));
    writeFileSync(manifestPath, JSON.stringify(m));
    expect((await attempt(releases, k.pub)).result.status).toBe('updated');
  });

  it('refuses a tampered firmware byte', async () => {
    const k = await keys();
    const fw = image(50_000, 3);
    const { releases } = await signedRelease('1.1.0', fw, k.priv);
    const stored = join(releases, 'firmware', sha256(fw) + '.bin');
    const bad = Buffer.from(fw);
    bad[1234] = bad[1234]! ^ 1;
    writeFileSync(stored, bad);
    // The per-chunk CRC catches it first; either way the signed SHA-256 stands between it and the slot.
    refused(await attempt(releases, k.pub, { download_retry_delay: 0.01 }), 'CHUNK_CRC', 'failed its CRC-32 check 3 times');
  });

  it('refuses a tampered manifest field', async () => {
    const k = await keys();
    const { releases, manifestPath } = await signedRelease('1.1.0', image(50_000), k.priv);
    const m = JSON.parse(readFileSync(manifestPath, 'utf8'));
    m.ver = '9.9.9';
    writeFileSync(manifestPath, JSON.stringify(m));
    refused(await attempt(releases, k.pub), 'SIGNATURE_INVALID', 'has a signature that no trusted key verifies');
  });

  it('refuses a manifest signed with another key', async () => {
    const [trusted, other] = [await keys(), await keys()];
    const { releases } = await signedRelease('1.1.0', image(5000), other.priv);
    refused(await attempt(releases, trusted.pub), 'SIGNATURE_INVALID', 'no trusted key verifies');
  });

  it('refuses an expired manifest', async () => {
    const k = await keys();
    const { releases } = await signedRelease('1.1.0', image(5000), k.priv, ['--expires', '2020-01-01T00:00:00Z']);
    refused(await attempt(releases, k.pub), 'MANIFEST_EXPIRED', 'expired at 2020-01-01T00:00:00.000Z');
  });

  it('refuses a manifest for another device', async () => {
    const k = await keys();
    const dir = tempDir();
    writeFileSync(join(dir, 'fw.bin'), image(5000));
    await runCli(['publish', '--dir', join(dir, 'r'), '--file', join(dir, 'fw.bin'), '--version', '1.1.0', '--device', 'dev2', '--key', k.priv]);
    // Served at dev1's address: a server (or a man in the middle) hands dev1 another device's release.
    const manifest = readFileSync(join(dir, 'r/v1/ota/device/latest/dev2'), 'utf8');
    writeFileSync(join(dir, 'r/v1/ota/device/latest/dev1'), manifest);
    refused(await attempt(join(dir, 'r'), k.pub), 'WRONG_TARGET', 'manifest is for device "dev2", not this device (dev1)');
  });

  it('refuses a replayed older signed manifest', async () => {
    const k = await keys();
    const { releases } = await signedRelease('1.0.1', image(5000), k.priv);
    refused(await attempt(releases, k.pub, {}, '1.0.2'), 'DOWNGRADE_REFUSED', 'the server offers 1.0.1, older than the running 1.0.2');
  });

  it('installs an older version only when signed as a downgrade and the device allows it', async () => {
    const k = await keys();
    const plain = await signedRelease('1.0.1', image(5000), k.priv);
    refused(await attempt(plain.releases, k.pub, { allow_downgrade: true }, '1.0.2'), 'DOWNGRADE_REFUSED', 'older than the running 1.0.2');
    const explicit = await signedRelease('1.0.1', image(5000), k.priv, ['--downgrade']);
    refused(await attempt(explicit.releases, k.pub, {}, '1.0.2'), 'DOWNGRADE_REFUSED', 'older than the running 1.0.2');
    expect((await attempt(explicit.releases, k.pub, { allow_downgrade: true }, '1.0.2')).result.status).toBe('updated');
  });

  it('refuses an unsigned manifest marked as a downgrade, even with allow_downgrade (issue 13)', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'fw.bin'), image(5000));
    const r = await runCli(['publish', '--dir', join(dir, 'r'), '--file', join(dir, 'fw.bin'), '--version', '1.0.1', '--device', 'dev1', '--downgrade']);
    expect(r.code, r.stderr).toBe(0);
    const unsigned = await attempt(join(dir, 'r'), [], { allow_downgrade: true }, '1.0.2');
    refused(unsigned, 'DOWNGRADE_REFUSED', 'older than the running 1.0.2');
    expect(unsigned.lines.some((l) => l.message.includes('explicit downgrade'))).toBe(false);
  });

  it('refuses an unsigned manifest when keys are configured', async () => {
    const k = await keys();
    const { dir } = await releaseDir('1.1.0', image(5000));
    refused(await attempt(dir, k.pub), 'SIGNATURE_MISSING', 'is not signed, and this device trusts only signed manifests');
  });

  it('refuses an announced size above the slot, and never reads past the announced size', async () => {
    const data = image(100_000, 7);
    const { manifestFor } = await import('./helpers/fixtures.js');
    const m = await manifestFor(data);
    const big = await faultServer(m, data);
    const stateDir = await device('1.0.0');
    const { nodePlatform } = await import('../src/platform/node/platform.js');
    const t = testUpdater({ ota_domain: big.url, device_id: 'dev1' }, stateDir, { slots: nodePlatform({ stateDir, slotCapacity: 50_000 }).slots });
    const r = await t.updater.checkForUpdates();
    expect(r.status === 'failed' && r.error.code).toBe('IMAGE_TOO_LARGE');
    expect(big.ranges).toEqual([]);
    const endless = await faultServer(m, data, { extraBytes: 10_000_000 });
    const e = testUpdater({ ota_domain: endless.url, device_id: 'dev1' }, await device('1.0.0'));
    expect((await e.updater.checkForUpdates()).status).toBe('updated');
  });

  it('says why in the device status and the log for `ota device`', async () => {
    const k = await keys();
    const { dir } = await releaseDir('1.1.0', image(5000));
    const server = await serve(dir);
    const stateDir = await device('1.0.0');
    const r = await runCli(['device', '--config', configFile({ ota_domain: server.url, device_id: 'dev1', public_keys: [k.pub] }), '--state-dir', stateDir, '--once']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('update failed (SIGNATURE_MISSING)');
    expect(readFileSync(join(stateDir, 'ota.log'), 'utf8')).toContain('[ERROR] - Cannot check for updates: manifest for 1.1.0 is not signed');
  });
});

describe('transport', () => {
  it('updates over HTTPS with a CA made for the test, and refuses a pin mismatch or an untrusted certificate', async () => {
    const tls = testCa();
    const { dir } = await releaseDir('1.1.0', image(80_000, 4));
    const server = await startServer({ dir, port: 0, tls: { cert: tls.cert, key: tls.key } });
    onCleanup(() => server.close());
    expect(server.url.startsWith('https://127.0.0.1:')).toBe(true);
    const ok = testUpdater({ ota_domain: server.url, device_id: 'dev1', ca_file: tls.ca, pin_sha256: [tls.pin] }, await device('1.0.0'));
    const okr = await ok.updater.checkForUpdates();
    expect(okr.status, JSON.stringify(okr)).toBe('updated');

    const pinned = testUpdater({ ota_domain: server.url, device_id: 'dev1', ca_file: tls.ca, pin_sha256: ['AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='] }, await device('1.0.0'));
    const p = await pinned.updater.checkForUpdates();
    expect(p.status === 'failed' && p.error).toMatchObject({ code: 'INSECURE_TRANSPORT', retryable: false });
    expect(p.status === 'failed' && p.message).toContain('matches no pin in pin_sha256');

    // The image reader makes its own TLS connections: the same checks hold there.
    const { nodeTransport } = await import('../src/platform/node/transport.js');
    const read = (t: ReturnType<typeof nodeTransport>) => t.stream({ url: server.url + '/firmware/any.bin' }, { onResponse: () => false, onData: () => false }).then(() => null, (e: unknown) => e);
    expect(await read(nodeTransport({ caFile: tls.ca, pins: [tls.pin] }))).toBe(null);
    expect(await read(nodeTransport({ caFile: tls.ca, pins: ['AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='] }))).toMatchObject({ code: 'INSECURE_TRANSPORT', message: expect.stringContaining('matches no pin') });
    expect(await read(nodeTransport())).toMatchObject({ code: 'INSECURE_TRANSPORT', message: expect.stringContaining('the server certificate is not trusted') });

    const stranger = testUpdater({ ota_domain: server.url, device_id: 'dev1' }, await device('1.0.0'));
    const s = await stranger.updater.checkForUpdates();
    expect(s.status === 'failed' && s.error.code).toBe('INSECURE_TRANSPORT');
    expect(s.status === 'failed' && s.message).toContain('the server certificate is not trusted');
  });

  it('refuses plain HTTP to another machine unless allowed, with a warning', async () => {
    const { parseConfig } = await import('../src/config/config.js');
    expect(() => parseConfig(JSON.stringify({ device_id: 'd', ota_domain: 'http://updates.example.com' }))).toThrow('key "ota_domain" is plain HTTP to another machine');
    const { warnings } = parseConfig(JSON.stringify({ device_id: 'd', ota_domain: 'http://updates.example.com', allow_http: true }));
    expect(warnings).toEqual(['default.cfg: plain HTTP to http://updates.example.com (allow_http): updates and tokens travel unencrypted']);
    expect(parseConfig(JSON.stringify({ device_id: 'd', ota_domain: 'http://127.0.0.1:8080' })).warnings).toEqual([]);
  });

  it("sends the device token with an image request only to the update server's origin or a trusted one (issue 13)", async () => {
    const data = image(5000);
    const { manifestFor } = await import('./helpers/fixtures.js');
    const elsewhere = await faultServer(await manifestFor(data), data);
    const server = await faultServer(Object.assign(await manifestFor(data), { url: elsewhere.url + '/image.bin' }), data);
    const { nodeTransport } = await import('../src/platform/node/transport.js');
    const base = nodeTransport();
    const imageAuth = async (settings: Record<string, unknown>) => {
      const seen: (string | undefined)[] = [];
      const t = testUpdater({ ota_domain: server.url, device_id: 'dev1', device_token: 'tok-123456', ...settings }, await device('1.0.0'), {
        transport: { request: (r) => base.request(r), stream: (r, h) => (seen.push(r.headers?.Authorization), base.stream(r, h)) },
      });
      expect((await t.updater.checkForUpdates()).status).toBe('updated');
      return seen;
    };
    expect(await imageAuth({})).toEqual([undefined]);
    expect(await imageAuth({ trusted_origins: [elsewhere.url] })).toEqual(['Bearer tok-123456']);
    const { parseConfig } = await import('../src/config/config.js');
    expect(() => parseConfig(JSON.stringify({ device_id: 'd', trusted_origins: ['https://cdn.example.com/firmware'] }))).toThrow('key "trusted_origins"');
  });

  it('sends the device token in a header, never in the URL', async () => {
    const data = image(5000);
    const { manifestFor } = await import('./helpers/fixtures.js');
    const server = await faultServer(await manifestFor(data), data);
    const seen: string[] = [];
    const { nodeTransport } = await import('../src/platform/node/transport.js');
    const base = nodeTransport();
    const t = testUpdater({ ota_domain: server.url, device_id: 'dev1', device_token: 'tok-123456' }, await device('1.0.0'), {
      transport: {
        request: (r) => (seen.push(r.url + ' ' + JSON.stringify(r.headers)), base.request(r)),
        stream: (r, h) => (seen.push(r.url + ' ' + JSON.stringify(r.headers)), base.stream(r, h)),
      },
    });
    expect((await t.updater.checkForUpdates()).status).toBe('updated');
    for (const line of seen) {
      expect(line.split(' ')[0]).not.toContain('tok-123456');
      expect(line).toContain('"Authorization":"Bearer tok-123456"');
    }
  });
});
