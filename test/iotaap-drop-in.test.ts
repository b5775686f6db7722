/**
 * A drop-in for IoTaaP OS devices: its own default.cfg, its API, its MQTT conventions.
 * The IoTaaP behaviour is read from iotaap/iotaap-os (src/ota/ota_module.cpp,
 * src/system/system_json.cpp, src/mqtt/mqtt_client.cpp, src/mqtt/mqtt_remoteControl.cpp).
 */
import { spawn } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/config.js';
import { mqttOptions, tlsMismatch } from '../src/platform/node/mqtt-trigger.js';
import { esp32Image } from './helpers/esp32.js';
import { configFile, device, freePort, image, onCleanup, releaseDir, runCli, serve, sha256, tempDir, testUpdater, until } from './helpers/fixtures.js';
import { iotaapServer } from './helpers/iotaap-server.js';
import { MOSQUITTO, mosquittoPub, mosquittoSub, type Subscriber } from './helpers/mosquitto.js';
import { testCa } from './helpers/test-ca.js';

/**
 * A default.cfg as IoTaaP OS ships it: the keys, value types and layout of its stock file
 * (iotaap/iotaap-os at commit c7f25e4, v3.0.0, fs_structure/etc/device/default.cfg; the keys it
 * reads are listed in src/system/system_configuration.cpp, src/mqtt/mqtt_client.cpp and
 * src/wifi/wifi_module.cpp), with values of our own. As there, what the IoTaaP configurator fills
 * in is empty, there is no "ota_domain", "protocol" or "secure_conn", and the MQTT port is the
 * TLS port 8883 (what the TLS-mismatch test below is about).
 */
const STOCK = `{
  "device_id": "",
  "device_token": "",
  "group_id": "",
  "group_token": "",
  "ssid": "",
  "ssid_pass": "",
  "rof": false,
  "auto_update": true,
  "mqtt_server": "broker.example.net",
  "mqtt_port": 8883,
  "mqtt_user": "",
  "mqtt_pass": "",
  "timezone": -3,
  "ntp_1": "0.debian.pool.ntp.org",
  "ntp_2": "ntp.example.org"
}`;

async function status(stateDir: string) {
  return JSON.parse((await runCli(['device', 'status', '--state-dir', stateDir])).stdout);
}

describe("IoTaaP OS's default.cfg", () => {
  it('updates a device with the stock file, only the values the IoTaaP configurator fills in set', async () => {
    const api = await iotaapServer();
    const fw = esp32Image([120_000, 5_000]);
    api.upload('device', 'esp-7', '1.0.1', fw, 'T0KEN77');
    // Every key as shipped (no "protocol", ntp_1/ntp_2, ssid, rof, timezone, mqtt_port 8883 without
    // secure_conn); the configurator writes the device id and token, and the OTA domain ("Auto Update Domain").
    const cfg = Object.assign(JSON.parse(STOCK), { device_id: 'esp-7', device_token: 'T0KEN77', ota_domain: api.url });
    const path = join(tempDir(), 'default.cfg');
    writeFileSync(path, JSON.stringify(cfg, null, 2));
    const stateDir = await device('1.0.0');
    const r = await runCli(['device', '--config', path, '--state-dir', stateDir, '--once']);
    expect(r.stdout).toContain('updated 1.0.0 -> 1.0.1 (slot b, confirmed)');
    expect(r.stderr).not.toContain('unknown key');
    expect(r.stderr).toContain("speaks IoTaaP's API");
    expect(r.stderr).toContain('valid esp32 image');
    expect(r.stderr).not.toContain('T0KEN77');
    // The size is asked with HEAD (issue 13: a server ignoring Range would push the whole image at a GET probe).
    expect(api.requests).toEqual(['GET /v1/ota/device/latest/esp-7', 'HEAD /v1/ota/device/download/esp-7T0KEN77', 'GET /v1/ota/device/download/esp-7T0KEN77']);
    expect(await status(stateDir)).toMatchObject({ version: '1.0.1', sha256: sha256(fw), state: 'confirmed' });
  });

  it('reads the unchanged file without a warning: only the empty device_id stops it, as it stops IoTaaP OS', () => {
    expect(() => parseConfig(STOCK)).toThrow('default.cfg: key "device_id" is missing or empty');
    const { config, warnings } = parseConfig(STOCK.replace('"device_id": ""', '"device_id": "esp-7"'));
    expect(warnings).toEqual([]);
    expect(config).toMatchObject({ protocol: 'auto', ota_domain: 'https://ota.iotaap.io', mqtt_server: 'broker.example.net', mqtt_port: 8883, secure_conn: false, auto_update: true });
  });

  it('keeps the default for an empty string in every key, as IoTaaP OS does', () => {
    const empty = { device_id: 'd', ota_domain: '', mqtt_server: '', protocol: '', hawkbit_tenant: '', state_dir: '', fw_setenv: '', log_file: '', check_interval: '', maintenance_window: '', firmware_version: '' };
    const { config, warnings } = parseConfig(JSON.stringify(empty));
    expect(warnings).toEqual([]);
    expect(config).toMatchObject({ ota_domain: 'https://ota.iotaap.io', mqtt_server: 'network.iotaap.io', protocol: 'auto', hawkbit_tenant: 'DEFAULT', state_dir: 'ota-state', fw_setenv: 'fw_setenv', log_file: 'ota.log', check_interval: 21600 });
    // A log file is turned off with false, since "" keeps the default.
    expect(parseConfig('{"device_id":"d","log_file":false}').config.log_file).toBe('');
  });
});

describe('protocol "auto"', () => {
  it('tells the native protocol from IoTaaP by the check answer', async () => {
    const native = await serve((await releaseDir('1.0.3', image(20_000, 4))).dir);
    const n = testUpdater({ ota_domain: native.url, device_id: 'dev1' }, await device('1.0.2'));
    expect((await n.updater.checkForUpdates()).status).toBe('updated');
    expect(n.lines.map((l) => l.message)).toContain('Update server at ' + native.url + ' speaks the native protocol (full manifest)');
  });

  it('says what is wrong when "native" meets an IoTaaP server, and never takes a bare {"ver"} when manifests must be signed', async () => {
    const api = await iotaapServer();
    api.upload('device', 'dev1', '1.0.3', image(1000), 't');
    const r = await testUpdater({ protocol: 'native', ota_domain: api.url, device_id: 'dev1' }, await device('1.0.2')).updater.checkForUpdates();
    expect(r.status === 'failed' && r.error.message).toContain('that is IoTaaP\'s API, not a native manifest; set "protocol": "auto" (or "iotaap")');
    const keys = join(tempDir(), 'keys');
    await runCli(['keygen', '--out', keys]);
    const s = await testUpdater({ ota_domain: api.url, device_id: 'dev1', public_keys: [join(keys, 'ota-public.pem')] }, await device('1.0.2')).updater.checkForUpdates();
    expect(s.status === 'failed' && s.error.code).toBe('SIGNATURE_MISSING');
  });
});

describe('IoTaaP versions', () => {
  it('updates on any different version, as IoTaaP compares them, and the rejected list stops a loop', async () => {
    const api = await iotaapServer({ ranges: true });
    const fw = image(30_000, 6);
    api.upload('device', 'dev1', '2023.05', fw, 'tok');
    const stateDir = await device('2023.04');
    const { updater } = testUpdater({ ota_domain: api.url, device_id: 'dev1', device_token: 'tok' }, stateDir);
    expect(await updater.checkForUpdates()).toMatchObject({ status: 'updated', version: '2023.05', from: '2023.04' });
    await updater.boot();
    expect(await updater.checkForUpdates()).toMatchObject({ status: 'up-to-date', version: '2023.05' });
    // The trial fails: 2023.04 comes back, and the same image is not installed again.
    await updater.revert('health check failed');
    await updater.boot();
    const again = await updater.checkForUpdates();
    expect(again.status === 'failed' && again.error.code).toBe('IMAGE_REJECTED');
    expect((await updater.status()).version).toBe('2023.04');
  });
});

describe('MQTT as IoTaaP OS connects', () => {
  it('names the TLS/port mismatch of a stock file, and connects with the device id as client id', () => {
    expect(tlsMismatch(false, 8883)).toContain('mqtt_port 8883 is the MQTT-over-TLS port but secure_conn is false');
    expect(tlsMismatch(true, 1883)).toContain('mqtt_port 1883 is the plain MQTT port but secure_conn is true');
    expect(tlsMismatch(true, 8883)).toBeUndefined();
    const { config } = parseConfig(STOCK.replace('"device_id": ""', '"device_id": "esp-7"').replace('"mqtt_user": ""', '"mqtt_user": "acme"'));
    expect(mqttOptions(config)).toMatchObject({ clientId: 'esp-7', url: 'mqtt://broker.example.net:8883', mismatch: tlsMismatch(false, 8883) });
  });

  const withBroker = MOSQUITTO !== undefined || process.env.CI ? it : it.skip;
  withBroker('over TLS with ca_file: client id = device id, codes for remote and local checks', async () => {
    // An IP address as the TLS server name is deprecated (Node's DEP0123; RFC 6066 section 3 allows host names only).
    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }) => warnings.push(w.code ?? w.message);
    process.on('warning', onWarning);
    onCleanup(() => process.off('warning', onWarning));
    const ca = testCa();
    const port = await freePort();
    // Mosquitto drops root for its own user: it must be able to read the keys and write its log.
    chmodSync(ca.dir, 0o777);
    chmodSync(join(ca.dir, 'server.key'), 0o644);
    const log = join(ca.dir, 'mosquitto.log');
    const conf = join(ca.dir, 'mosquitto.conf');
    writeFileSync(conf, `listener ${port} 127.0.0.1\ncafile ${ca.ca}\ncertfile ${join(ca.dir, 'server.pem')}\nkeyfile ${join(ca.dir, 'server.key')}\nallow_anonymous true\npersistence false\nlog_dest file ${log}\nlog_type all\n`);
    const broker = spawn(MOSQUITTO!, ['-c', conf], { stdio: 'ignore' });
    onCleanup(() => new Promise((r) => (broker.exitCode !== null ? r(null) : (broker.once('exit', r), broker.kill('SIGTERM')))));
    const api = await iotaapServer();
    api.upload('device', 'esp-7', '1.0.0', image(1000), 't');
    const { updater, lines } = testUpdater(
      { ota_domain: api.url, device_id: 'esp-7', device_token: 't', mqtt_server: '127.0.0.1', mqtt_port: port, mqtt_user: 'acme', secure_conn: true, ca_file: ca.ca },
      await device('1.0.0'),
    );
    // The operator's console: Mosquitto's own clients over TLS, trusting the same CA.
    let operator: Subscriber | null = null;
    await until('the broker to accept the console', async () => {
      operator = await mosquittoSub(port, '/acme/devices/esp-7/update-response', ca.ca).catch(() => null);
      return operator !== null;
    });
    const codes = () => operator!.messages.map((m) => JSON.parse(m.payload).code as number);
    updater.start();
    onCleanup(() => updater.stop());
    await until('the agent to subscribe', () => lines.some((l) => l.message.includes('waiting for update requests')));
    expect(readFileSync(log, 'utf8')).toMatch(/New client connected from 127\.0\.0\.1:\d+ as esp-7 /);
    await mosquittoPub(port, '/acme/devices/esp-7/update-trigger', 'flash', ca.ca);
    await until('two answers', () => codes().length >= 2);
    expect(await updater.checkForUpdates()).toMatchObject({ status: 'up-to-date' });
    await until('the local check to be announced', () => codes().length >= 3);
    expect(codes()).toEqual([200, 202, 202]);
    expect(warnings).toEqual([]);
  });
});
