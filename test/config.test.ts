/** default.cfg: every kind of key refuses a wrong value by name; `ota config init`; the system log. */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/config.js';
import { parseDuration } from '../src/config/durations.js';
import { formatLogLine } from '../src/log/log-line.js';
import { masker } from '../src/log/redact.js';
import { rotatingFile } from '../src/platform/node/log-file.js';
import { configFile, device, image, releaseDir, runCli, serve, tempDir } from './helpers/fixtures.js';

const base = { device_id: 'dev1' };

describe('config key types', () => {
  const wrong: [string, unknown, string][] = [
    ['auto_update', 'true', 'true or false'],
    ['mqtt_port', 70000, 'a port number from 1 to 65535'],
    ['ota_domain', 'ota.example.com', 'an http:// or https:// URL'],
    ['check_interval', '6 hours', 'a number of seconds or a string such as "90s", "30m", "6h", "1d"'],
    ['check_interval', -5, 'a number of seconds'],
    ['check_jitter', 1.5, 'a number from 0 to 1'],
    ['boot_attempts', 0, 'a whole number from 1 to 100'],
    ['log_max_size', 1.5, 'a whole number of bytes (0 or more)'],
    ['protocol', 'mender', '"auto", "native"'],
    ['image_format', 'elf', '"" or "esp32"'],
    ['maintenance_window', '2am-4am', 'a time range "HH:MM-HH:MM" in UTC'],
    ['maintenance_window', '02:00-02:00', 'a time range'],
    ['firmware_version', 7, 'a version such as "1.0.2"'],
    // Issue 13: values that were taken and failed later, or looped.
    ['mqtt_port', '80.9', 'a port number from 1 to 65535'],
    ['check_interval', 0, 'a number of seconds or a string such as "90s", "30m", "6h", "1d", above 0'],
    ['check_interval', '0s', 'a number of seconds or a string such as "90s", "30m", "6h", "1d", above 0'],
    ['retry_delay', 0, 'a number of seconds or a string such as "90s", "30m", "6h", "1d", above 0'],
    ['min_check_interval', '0m', 'a number of seconds or a string such as "90s", "30m", "6h", "1d", above 0'],
    ['download_timeout', 0, 'a number of seconds or a string such as "90s", "30m", "6h", "1d", above 0'],
  ];
  it('names a secret key with a wrong value without repeating the value (issue 13)', () => {
    expect(() => parseConfig(JSON.stringify({ ...base, device_token: 424242 }))).toThrow('key "device_token" is a number; expected a string');
  });
  for (const [key, value, expected] of wrong) {
    it('names "' + key + '" when it is ' + JSON.stringify(value), () => {
      expect(() => parseConfig(JSON.stringify({ ...base, [key]: value }), '/etc/ota/default.cfg')).toThrow(
        '/etc/ota/default.cfg: key "' + key + '" is ' + JSON.stringify(value) + '; expected ' + expected,
      );
    });
  }

  it('accepts what each kind allows', () => {
    const { config } = parseConfig(
      JSON.stringify({ ...base, mqtt_port: '1883', check_interval: '1d', first_check_delay: 0, check_jitter: 0, maintenance_window: '23:30-01:00', image_format: 'esp32', slot_size: 0, retry_delay: '90s' }),
    );
    expect(config).toMatchObject({ mqtt_port: 1883, check_interval: 86400, first_check_delay: 0, maintenance_window: '23:30-01:00', image_format: 'esp32', retry_delay: 90 });
    expect(parseDuration('0.5s')).toBe(0.5);
    expect(parseDuration('30m')).toBe(1800);
  });

  it('refuses crossed interval clamps', () => {
    expect(() => parseConfig(JSON.stringify({ ...base, min_check_interval: '2h', max_check_interval: '1h' }))).toThrow('key "min_check_interval" (7200 s) is above "max_check_interval" (3600 s)');
  });
});

describe('examples/default.cfg', () => {
  it('holds every key and validates without warnings', async () => {
    const { defaultSettings } = await import('../src/config/config.js');
    const text = readFileSync(join(process.cwd(), 'examples/default.cfg'), 'utf8');
    expect(Object.keys(JSON.parse(text)).sort()).toEqual(Object.keys(defaultSettings()).sort());
    expect(parseConfig(text).warnings).toEqual([]);
  });
});

describe("the README's default.cfg table", () => {
  it('documents every key the configuration reads, and no other', async () => {
    const { defaultSettings } = await import('../src/config/config.js');
    const readme = readFileSync(join(process.cwd(), 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## default.cfg'), readme.indexOf('\n## ', readme.indexOf('## default.cfg') + 1));
    // The first cell of each row: `key`, or several keys sharing a row (`mqtt_server`, `mqtt_port`, …).
    const documented = section.split('\n').filter((l) => l.startsWith('| `')).flatMap((l) => l.split('|')[1]!.match(/`[a-z0-9_]+`/g)!.map((k) => k.slice(1, -1)));
    expect(documented.sort()).toEqual(Object.keys(defaultSettings()).sort());
  });
});

describe('ota config init', () => {
  it('writes a default.cfg with every key and its default, which then validates', async () => {
    const out = join(tempDir(), 'default.cfg');
    const r = await runCli(['config', 'init', '--out', out, '--device-id', 'pi-7']);
    expect(r.code).toBe(0);
    const written = JSON.parse(readFileSync(out, 'utf8'));
    expect(written).toMatchObject({ device_id: 'pi-7', auto_update: false, ota_domain: 'https://ota.iotaap.io', mqtt_port: 8883, check_interval: 21600 });
    expect(parseConfig(readFileSync(out, 'utf8')).warnings).toEqual([]);
    expect((await runCli(['config', 'init', '--out', out])).stderr).toContain('exists (use --force to overwrite)');
  });
});

describe('system log', () => {
  it('formats lines as IoTaaP OS does', () => {
    expect(formatLogLine(new Date(Date.UTC(2026, 0, 2, 3, 4, 5)), 'ERROR', 'Cannot check for updates')).toBe('[2026-01-02 03:04:05] [ERROR] - Cannot check for updates');
  });

  it('rotates by size and keeps only the configured number of old files', () => {
    const dir = tempDir();
    const path = join(dir, 'ota.log');
    const write = rotatingFile(path, 1000, 2);
    for (let i = 0; i < 200; i++) write('[2026-11-26 12:00:00] [INFO] - line ' + i);
    expect(readdirSync(dir).sort()).toEqual(['ota.log', 'ota.log.1', 'ota.log.2']);
    for (const f of ['ota.log', 'ota.log.1', 'ota.log.2']) expect(statSync(join(dir, f)).size).toBeLessThanOrEqual(1000);
    expect(readFileSync(path, 'utf8').trim().split('\n').at(-1)).toContain('line 199');
  });

  it('is written by the agent to log_file, without secrets', async () => {
    const { dir } = await releaseDir('1.0.1', image(2000));
    const server = await serve(dir);
    const stateDir = await device('1.0.0');
    const secret = 's3cr3t-token';
    const cfg = configFile({ ota_domain: server.url.replace(/:\d+$/, ':1'), device_id: 'dev1', device_token: secret, mqtt_pass: 'mqtt-pass-123', log_file: 'logs/ota.log', log_max_size: 1024, log_files: 1 });
    for (let i = 0; i < 10; i++) await runCli(['device', '--config', cfg, '--state-dir', stateDir, '--once']);
    const logs = join(stateDir, 'logs');
    expect(readdirSync(logs).sort()).toEqual(['ota.log', 'ota.log.1']);
    const text = readFileSync(join(logs, 'ota.log'), 'utf8') + readFileSync(join(logs, 'ota.log.1'), 'utf8');
    expect(text).toContain('[ERROR] - Cannot check for updates');
    expect(text).not.toContain(secret);
    expect(existsSync(join(logs, 'ota.log.2'))).toBe(false);
  });

  it('masks a secret in each form it travels in: raw, URL-encoded and base64', () => {
    // protocols.test.ts checks the outputs end to end, but no path there carries the base64 form.
    const token = 'Ab+c/d=Ef9xyz';
    const mask = masker([token]);
    for (const form of [token, encodeURIComponent(token), encodeURI(token), Buffer.from(token).toString('base64')]) expect(mask('<' + form + '>'), form).toBe('<***>');
    expect(masker(['abc'])('abc')).toBe('abc'); // under 4 characters: masking would hide ordinary words
  });

  it('masks the token even where a server echoes it into an error', async () => {
    const { testUpdater } = await import('./helpers/fixtures.js');
    const secret = 'tok-abcdef';
    const { updater, lines } = testUpdater({ ota_domain: 'http://127.0.0.1:1/' + secret, device_id: 'dev1', device_token: secret }, await device('1.0.0'));
    await updater.checkForUpdates();
    expect(lines.some((l) => l.message.includes('http://127.0.0.1:1/***'))).toBe(true);
    expect(lines.some((l) => l.message.includes(secret))).toBe(false);
  });
});
