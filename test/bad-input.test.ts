/** Bad configuration, manifests and images get a clear error and change nothing. */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/config.js';
import { faultServer } from './helpers/fault-server.js';
import { configFile, device, image, manifestFor, releaseDir, runCli, serve, sha256, testUpdater } from './helpers/fixtures.js';

describe('configuration', () => {
  it('names a missing device_id', () => {
    expect(() => parseConfig('{"ota_domain":"http://127.0.0.1:1"}', '/etc/default.cfg')).toThrow(
      '/etc/default.cfg: key "device_id" is missing or empty',
    );
  });

  it('names the key, the value and the expected type of a wrong value', () => {
    expect(() => parseConfig('{"device_id":"d","auto_update":"yes"}')).toThrow('default.cfg: key "auto_update" is "yes"; expected true or false');
    expect(() => parseConfig('{"device_id":"d","ota_domain":"ftp://x"}')).toThrow('key "ota_domain" is "ftp://x"; expected an http:// or https:// URL');
    expect(() => parseConfig('{"device_id":"d","check_interval":"often"}')).toThrow('key "check_interval"');
    expect(() => parseConfig('{"device_id":"d","firmware_version":1.2}')).toThrow('key "firmware_version"');
    expect(() => parseConfig('{"device_id":"d","protocol":"mender"}')).toThrow('key "protocol" is "mender"; expected "auto", "native"');
  });

  it('rejects a file that is not a JSON object', () => {
    expect(() => parseConfig('{device_id: d}')).toThrow('default.cfg: not valid JSON');
    expect(() => parseConfig('[1]')).toThrow('default.cfg: expected a JSON object');
  });

  it('keeps IoTaaP defaults for empty strings and warns of unknown keys', () => {
    const { config, warnings } = parseConfig('{"device_id":"d","ota_domain":"","mqtt_port":"","check_interval":"30m","ssid":"home","colour":"red"}');
    expect(config.ota_domain).toBe('https://ota.iotaap.io');
    expect(config.mqtt_port).toBe(8883);
    expect(config.check_interval).toBe(1800);
    expect(config.auto_update).toBe(false);
    expect(warnings).toEqual(['default.cfg: unknown key "colour" ignored']);
  });

  it('makes `ota device` exit non-zero with the key named', async () => {
    const stateDir = await device('1.0.0');
    const r = await runCli(['device', '--config', configFile({ ota_domain: 'http://127.0.0.1:9', device_id: 42 }), '--state-dir', stateDir, '--once']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('key "device_id" is 42; expected a string');
    const missing = await runCli(['device', '--config', '/nonexistent/default.cfg', '--once']);
    expect(missing.stderr).toContain('cannot read the configuration: /nonexistent/default.cfg does not exist');
    expect(missing.code).toBe(3);
  });
});

describe('manifests', () => {
  const cases: [string, (m: Record<string, unknown>) => void, string][] = [
    ['a missing sha256', (m) => delete m.sha256, 'manifest field "sha256" must be 64 hexadecimal characters'],
    ['a missing size', (m) => delete m.size, 'manifest field "size" must be a whole number'],
    ['a missing url', (m) => delete m.url, 'manifest field "url" is missing'],
    ['too few CRCs', (m) => (m.chunk_crc32 = [1]), 'manifest field "chunk_crc32" must list'],
    ['a non-semver version', (m) => (m.ver = '1.0.3-beta..1'), 'manifest field "ver" is "1.0.3-beta..1", which is not a semantic version'],
    ['a missing version', (m) => delete m.ver, 'manifest field "ver" is missing'],
    ['a version written as a number (issue 13)', (m) => (m.ver = 1.04), 'manifest field "ver" is 1.04, not a string'],
  ];
  for (const [what, spoil, message] of cases) {
    it('refuses ' + what + ' before downloading anything', async () => {
      const data = image(20_000);
      const m = (await manifestFor(data)) as Record<string, unknown>;
      spoil(m);
      const server = await faultServer(m, data);
      const stateDir = await device('1.0.2');
      const { updater, lines } = testUpdater({ ota_domain: server.url, device_id: 'dev1' }, stateDir);
      const r = await updater.checkForUpdates();
      expect(r.status).toBe('failed');
      if (r.status !== 'failed') return;
      expect(r.error.message).toContain(message);
      expect(r.message).toContain('the running firmware 1.0.2 (slot a) is untouched');
      expect(server.ranges).toEqual([]);
      expect(lines.some((l) => l.level === 'ERROR' && l.message.includes(message))).toBe(true);
      expect(await updater.status()).toMatchObject({ slot: 'a', version: '1.0.2', state: 'confirmed', pending: null });
    });
  }

  it('refuses a manifest that is not JSON, or a JSON null, as a fault worth retrying (issue 13)', async () => {
    for (const body of ['<html>gateway error</html>', '{"ver": "1.0.3", "si', 'null']) {
      const server = await faultServer(body, Buffer.alloc(0));
      const { updater } = testUpdater({ ota_domain: server.url, device_id: 'dev1' }, await device('1.0.2'));
      const r = await updater.checkForUpdates();
      expect(r.status === 'failed' && r.error, body).toMatchObject({ code: 'MANIFEST_INVALID', retryable: true });
    }
  });
});

describe('the system log', () => {
  it('a log file that cannot be written does not make checkForUpdates() reject (issue 13)', async () => {
    const stateDir = await device('1.0.2');
    writeFileSync(join(stateDir, 'blocker'), 'a file where the log directory should be');
    const { createUpdater } = await import('../src/index.js');
    const updater = createUpdater({ config: { ota_domain: 'http://127.0.0.1:9', device_id: 'dev1', log_file: 'blocker/ota.log' }, stateDir });
    const r = await updater.checkForUpdates();
    expect(r.status === 'failed' && r.error.code).toBe('NETWORK');
  });
});

describe('images', () => {
  it('gives up on a download shorter than announced, keeping the running slot and the bytes it got', async () => {
    const data = image(300_000, 4);
    const server = await faultServer(await manifestFor(data), data, { haveBytes: 100_000 });
    const stateDir = await device('1.0.2');
    const { updater, reboots } = testUpdater({ ota_domain: server.url, device_id: 'dev1', download_retry_delay: 0.01 }, stateDir);
    const r = await updater.checkForUpdates();
    expect(r.status).toBe('failed');
    if (r.status !== 'failed') return;
    expect(r.error.stage).toBe('download');
    expect(r.error.retryable).toBe(true);
    expect(r.error.message).toMatch(/ at byte \d+ of 300000 \(6 faults in a row; 98304 bytes kept for the next attempt\)$/);
    // Each attempt resumes at the first chunk not yet verified.
    expect(server.ranges[0]).toBe('bytes=0-');
    const starts = server.ranges.map((h) => Number(/^bytes=(\d+)-$/.exec(h ?? '')![1]));
    expect(starts).toEqual([...starts].sort((a, b) => a - b));
    expect(starts.at(-1)).toBe(98304);
    expect(reboots).toEqual([]);
    expect(await updater.status()).toMatchObject({ slot: 'a', version: '1.0.2', state: 'confirmed', pending: null });
    expect(server.reports.map((x) => x.stage)).toEqual(['downloading', 'failed']);
  });

  it('refuses an image whose SHA-256 does not match, and reports it', async () => {
    const fw = image(200_000, 8);
    const { dir, manifest } = await releaseDir('1.0.3', fw);
    const path = join(dir, 'v1/ota/device/latest/dev1');
    const wrong = sha256(Buffer.from('something else'));
    writeFileSync(path, readFileSync(path, 'utf8').replace(manifest.sha256, wrong));
    const server = await serve(dir);
    const stateDir = await device('1.0.2');
    const before = readFileSync(join(stateDir, 'slots/a.bin'));
    const { updater, reboots } = testUpdater({ ota_domain: server.url, device_id: 'dev1' }, stateDir);
    const r = await updater.checkForUpdates();
    expect(r.status === 'failed' && r.error.code).toBe('SHA256_MISMATCH');
    expect(r.status === 'failed' && r.message).toContain('has SHA-256 ' + manifest.sha256 + ' but the release announced ' + wrong);
    expect(reboots).toEqual([]);
    expect(readFileSync(join(stateDir, 'slots/a.bin'))).toEqual(before);
    expect(await updater.status()).toMatchObject({ slot: 'a', state: 'confirmed', pending: null });
    expect(server.reports.at(-1)!.report).toMatchObject({ stage: 'failed', code: 'SHA256_MISMATCH', version: '1.0.3', from: '1.0.2' });
  });

  it('refuses a size beyond the free disk space before allocating anything (issue 13)', async () => {
    const size = 2 ** 40;
    const chunk = 16 * 1024 * 1024;
    const m = { ver: '1.0.3', size, sha256: 'ab'.repeat(32), chunk_size: chunk, chunk_crc32: new Array(size / chunk).fill(0), url: 'image.bin' };
    const server = await faultServer(m, image(1000));
    const stateDir = await device('1.0.2');
    const { updater } = testUpdater({ ota_domain: server.url, device_id: 'dev1' }, stateDir);
    const r = await updater.checkForUpdates();
    expect(r.status === 'failed' && r.error).toMatchObject({ code: 'IMAGE_TOO_LARGE', message: expect.stringContaining('is 1099511627776 bytes but slot b holds ') });
    expect(statSync(join(stateDir, 'slots/b.bin')).size).toBe(0);
    expect(server.ranges).toEqual([]);
  });

  it('refuses an image larger than the slot before downloading', async () => {
    const data = image(50_000);
    const server = await faultServer(await manifestFor(data), data);
    const { createUpdater } = await import('../src/index.js');
    const stateDir = await device('1.0.2');
    const { nodePlatform } = await import('../src/platform/node/platform.js');
    const base = nodePlatform({ stateDir, slotCapacity: 40_000 });
    const updater = createUpdater({ config: { ota_domain: server.url, device_id: 'dev1' }, stateDir, platform: { slots: base.slots, logger: { log: () => undefined } } });
    const r = await updater.checkForUpdates();
    expect(r.status === 'failed' && r.error.message).toBe('release 1.0.3 is 50000 bytes but slot b holds 40000');
    expect(server.ranges).toEqual([]);
  });
});
