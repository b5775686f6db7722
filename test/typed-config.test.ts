/**
 * `createUpdater({ config })` is typed: a misspelt key or a value of the wrong type fails to
 * compile (`tsc --noEmit -p .`, part of `npm test`, checks the @ts-expect-error lines below: each
 * must be an error, or tsc fails), while IoTaaP OS's default.cfg, as its devices hold it, compiles.
 */
import { describe, expect, it } from 'vitest';
import { createUpdater, type OtaSettings } from '../src/index.js';
import { device } from './helpers/fixtures.js';

// IoTaaP OS's keys and value forms (iotaap/iotaap-os, default.cfg): "" keeps a default, mqtt_port
// may be a number or digits, and its Wi-Fi and clock keys are accepted and ignored.
const iotaap: OtaSettings = {
  device_id: 'esp-1',
  device_token: 'secret',
  group_id: '',
  group_token: '',
  auto_update: false,
  ota_domain: 'https://ota.iotaap.io',
  mqtt_server: 'network.iotaap.io',
  mqtt_port: 8883,
  mqtt_user: '',
  mqtt_pass: '',
  secure_conn: false,
  ssid: 'home',
  ssid_pass: 'wifi-secret',
  rof: false,
  timezone: 1,
};

const mistakes: OtaSettings[] = [
  // @ts-expect-error auto_update is a boolean, not "yes"
  { device_id: 'd', auto_update: 'yes' },
  // @ts-expect-error unknown key (a typo of check_interval)
  { device_id: 'd', check_intervall: '6h' },
  // @ts-expect-error a duration is seconds or "90s", "30m", "6h", "1d"
  { device_id: 'd', check_interval: '6 hours' },
  // @ts-expect-error protocol is "native", "iotaap" or "hawkbit"
  { device_id: 'd', protocol: 'mender' },
  // @ts-expect-error public_keys is a list of files
  { device_id: 'd', public_keys: 'ota-public.pem' },
];

describe('createUpdater config types', () => {
  it('accepts IoTaaP OS settings as they are, and what compiles also validates at run time', async () => {
    const updater = createUpdater({ config: Object.assign({}, iotaap, { firmware_version: '1.0.0', mqtt_port: '8883' as const, log_level: 'debug' as const }), stateDir: await device('1.0.0') });
    expect((await updater.status()).version).toBe('1.0.0');
    expect(mistakes).toHaveLength(5);
  });
});
