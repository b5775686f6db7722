/**
 * default.cfg: IoTaaP OS keys (same names and defaults; an empty string keeps the default) plus
 * ota-client's own. Parsing is strict about types and names the offending key.
 */
import { otaError } from '../errors.js';
import { parseWindow } from '../schedule/maintenance-window.js';
import { parseDecimal } from '../text/numbers.js';
import { parseDuration } from './durations.js';
import { isPlainRemote, originOf } from './url-policy.js';
import { LOG_LEVELS } from '../log/log-level.js';
import type { LogLevel } from '../platform/interfaces.js';

/** The validated configuration. Durations are in seconds. */
export interface OtaConfig {
  // IoTaaP OS keys
  device_id: string;
  device_token: string;
  group_id: string;
  group_token: string;
  auto_update: boolean;
  ota_domain: string;
  mqtt_server: string;
  mqtt_port: number;
  mqtt_user: string;
  mqtt_pass: string;
  secure_conn: boolean;
  // ota-client keys
  /**
   * Update server protocol: "auto" (the default: the native protocol or IoTaaP's API, told apart
   * by the check answer), "native" (docs/protocol.md), "iotaap" (IoTaaP's device API) or "hawkbit" (DDI).
   */
  protocol: 'auto' | 'native' | 'iotaap' | 'hawkbit';
  /** hawkBit tenant, with protocol "hawkbit". */
  hawkbit_tenant: string;
  /** hawkBit gateway token: sent instead of the target token (`device_token`) when set. */
  hawkbit_gateway_token: string;
  /** Give consent at once to hawkBit actions that wait for the user's confirmation. */
  hawkbit_auto_consent: boolean;
  /** Version of the running firmware, used when the boot state does not know it. */
  firmware_version: string;
  /** Seconds between automatic checks (default 6 h). */
  check_interval: number;
  /** Seconds after start before the first automatic check. */
  first_check_delay: number;
  /** Fraction of the interval by which checks are randomly spread (0 to 1). */
  check_jitter: number;
  /** Shell command that decides whether a new image is healthy (exit 0); empty: healthy. */
  health_command: string;
  /** Seconds the health check may run. */
  health_timeout: number;
  /** Trial boots allowed before the previous slot comes back. */
  boot_attempts: number;
  /** Where the device agent keeps slots and state, relative to the config file. */
  state_dir: string;
  /** Seconds of silence after which a download connection is dropped and resumed. */
  download_timeout: number;
  /** Connection faults in a row (without progress) before a download attempt gives up. */
  download_retries: number;
  /** Bytes per second a download connection must bring over each `download_rate_window` (0: no rule). */
  download_min_rate: number;
  /** Seconds of network time (time writing the slot not counted) over which `download_min_rate` is measured. */
  download_rate_window: number;
  /** Seconds of the first backoff after a fault; doubles with each fault in a row. */
  download_retry_delay: number;
  /** Seconds a slot on trial has to be confirmed under `ota run` (0: no limit, boot attempts only). */
  confirm_timeout: number;
  /** Shell command that reboots the device; empty: exit with code 75 for the supervisor. */
  reboot_command: string;
  /** Image format to validate before switching: "" (none) or "esp32". */
  image_format: '' | 'esp32';
  /** Largest image a slot holds, in bytes (0: only free space limits file slots). */
  slot_size: number;
  /** Raw slot devices (or files) for boards booted by U-Boot; empty: file slots in state_dir. */
  slot_a: string;
  slot_b: string;
  /** The U-Boot environment tools used with raw slots, and their fw_env.config (empty: the tools' default). */
  fw_setenv: string;
  fw_printenv: string;
  fw_env_config: string;
  /** GRUB environment block (e.g. /boot/grub/grubenv): raw slots are booted by GRUB through grub-editenv; empty: by U-Boot. */
  grubenv: string;
  /** Kernel command line where the boot loader names the booted slot (`rauc.slot=A`). */
  kernel_cmdline: string;
  /** Seconds before the first retry after a failed check; doubles per failure up to check_interval. */
  retry_delay: number;
  /** Bounds, in seconds, for the interval a server suggests (Retry-After, hawkBit's sleep). */
  min_check_interval: number;
  max_check_interval: number;
  /** False: ignore the server's suggested interval and keep check_interval. */
  server_interval: boolean;
  /** "HH:MM-HH:MM" (UTC): automatic updates install only then; empty: any time. */
  maintenance_window: string;
  /** System log file, relative to the state directory; empty: no file (stderr only). */
  log_file: string;
  /** Bytes after which the log file is rotated. */
  log_max_size: number;
  /** Rotated log files kept besides the current one. */
  log_files: number;
  /** Least important log lines written: "DEBUG", "INFO" (default), "WARNING" or "ERROR" (any case in the file). */
  log_level: LogLevel;
  /** Ed25519 public key files (PEM) trusted to sign manifests; with any, unsigned manifests are refused. */
  public_keys: string[];
  /** Install an older version when its manifest is signed as an explicit downgrade. */
  allow_downgrade: boolean;
  /** CA certificate file (PEM) for HTTPS, instead of the system's. */
  ca_file: string;
  /** TLS client certificate and key files (PEM), for servers that authenticate devices by certificate. */
  client_cert: string;
  client_key: string;
  /** SHA-256 pins (base64) of the server's public key (SPKI); a certificate with another key is refused. */
  pin_sha256: string[];
  /** Allow plain HTTP to servers that are not on this machine (logged as a warning). */
  allow_http: boolean;
  /** Origins besides ota_domain's that may receive the device's credentials with image downloads. */
  trusted_origins: string[];
}

type Kind = 'level' | 'string' | 'file' | 'boolean' | 'port' | 'url' | 'duration' | 'interval' | 'fraction' | 'count' | 'bytes' | 'protocol' | 'format' | 'window' | 'strings' | 'origins' | 'version';

interface KeySpec {
  kind: Kind;
  value: unknown;
}

/**
 * Keys, their kinds and defaults. IoTaaP OS defaults are kept as they are. A function rather than
 * a constant: the table is built only while a configuration is read, as a board keeps every
 * constant of a loaded module in RAM (about 460 of an ESP32's 16 383 variables for this one).
 */
function keySpecs() {
  return {
    device_id: { kind: 'string', value: '' },
    device_token: { kind: 'string', value: '' },
    group_id: { kind: 'string', value: '' },
    group_token: { kind: 'string', value: '' },
    auto_update: { kind: 'boolean', value: false },
    ota_domain: { kind: 'url', value: 'https://ota.iotaap.io' },
    mqtt_server: { kind: 'string', value: 'network.iotaap.io' },
    mqtt_port: { kind: 'port', value: 8883 },
    mqtt_user: { kind: 'string', value: '' },
    mqtt_pass: { kind: 'string', value: '' },
    secure_conn: { kind: 'boolean', value: false },
    protocol: { kind: 'protocol', value: 'auto' },
    hawkbit_tenant: { kind: 'string', value: 'DEFAULT' },
    hawkbit_gateway_token: { kind: 'string', value: '' },
    hawkbit_auto_consent: { kind: 'boolean', value: false },
    firmware_version: { kind: 'version', value: '' },
    check_interval: { kind: 'interval', value: 6 * 3600 },
    first_check_delay: { kind: 'duration', value: 30 },
    check_jitter: { kind: 'fraction', value: 0.1 },
    health_command: { kind: 'string', value: '' },
    health_timeout: { kind: 'interval', value: 60 },
    boot_attempts: { kind: 'count', value: 3 },
    state_dir: { kind: 'string', value: 'ota-state' },
    download_timeout: { kind: 'interval', value: 30 },
    download_retries: { kind: 'count', value: 5 },
    download_min_rate: { kind: 'bytes', value: 1024 },
    download_rate_window: { kind: 'interval', value: 60 },
    download_retry_delay: { kind: 'duration', value: 1 },
    confirm_timeout: { kind: 'duration', value: 300 },
    reboot_command: { kind: 'string', value: '' },
    image_format: { kind: 'format', value: '' },
    slot_size: { kind: 'bytes', value: 0 },
    slot_a: { kind: 'string', value: '' },
    slot_b: { kind: 'string', value: '' },
    fw_setenv: { kind: 'string', value: 'fw_setenv' },
    fw_printenv: { kind: 'string', value: 'fw_printenv' },
    fw_env_config: { kind: 'string', value: '' },
    grubenv: { kind: 'string', value: '' },
    kernel_cmdline: { kind: 'string', value: '/proc/cmdline' },
    retry_delay: { kind: 'interval', value: 60 },
    min_check_interval: { kind: 'interval', value: 30 },
    max_check_interval: { kind: 'interval', value: 7 * 86400 },
    server_interval: { kind: 'boolean', value: true },
    maintenance_window: { kind: 'window', value: '' },
    log_file: { kind: 'file', value: 'ota.log' },
    log_max_size: { kind: 'bytes', value: 1024 * 1024 },
    log_files: { kind: 'count', value: 3 },
    log_level: { kind: 'level', value: 'INFO' },
    public_keys: { kind: 'strings', value: [] },
    allow_downgrade: { kind: 'boolean', value: false },
    ca_file: { kind: 'string', value: '' },
    client_cert: { kind: 'string', value: '' },
    client_key: { kind: 'string', value: '' },
    pin_sha256: { kind: 'strings', value: [] },
    allow_http: { kind: 'boolean', value: false },
    trusted_origins: { kind: 'origins', value: [] },
  } satisfies { [K in keyof OtaConfig]: KeySpec };
}

/** Keys whose values are masked wherever the agent writes (src/log/redact.ts). */
export const SECRET_KEYS = ['device_token', 'group_token', 'mqtt_pass', 'hawkbit_gateway_token'];

/**
 * IoTaaP OS keys that are not about updates: accepted and ignored. Every key any IoTaaP OS
 * release reads (iotaap/iotaap-os, the JsonDataType tables in src/, v3.0.0 to v5.2.2): Wi-Fi,
 * clock (`ntp_1`/`ntp_2` until v5.0) and the configurator's reset-on-failure flag.
 */
const FOREIGN_KEYS = ['ssid', 'ssid_pass', 'rof', 'timezone', 'ntp_1', 'ntp_2'];

/** The values a key of each kind accepts in default.cfg or in code (what `resolveConfig` converts). */
interface InputOf {
  level: LogLevel | 'debug' | 'info' | 'warning' | 'error';
  string: string;
  file: string | false;
  boolean: boolean;
  port: number | `${number}`;
  url: string;
  duration: number | `${number}` | `${number}${'s' | 'm' | 'h' | 'd'}`;
  interval: number | `${number}` | `${number}${'s' | 'm' | 'h' | 'd'}`;
  fraction: number;
  count: number;
  bytes: number;
  protocol: 'auto' | 'native' | 'iotaap' | 'hawkbit';
  format: '' | 'esp32';
  window: `${string}:${string}-${string}:${string}`;
  strings: readonly string[];
  origins: readonly string[];
  version: string;
}

/**
 * Settings as `createUpdater({ config })` takes them: default.cfg's keys with the values each
 * accepts, so a misspelt key or a wrong type fails to compile. As in IoTaaP OS, "" (or null)
 * keeps a key's default, and IoTaaP's keys that are not about updates are accepted.
 */
export type OtaSettings = { [K in keyof OtaConfig]?: InputOf[ReturnType<typeof keySpecs>[K]['kind']] | '' | null } & {
  ssid?: string;
  ssid_pass?: string;
  rof?: unknown;
  timezone?: unknown;
  ntp_1?: string;
  ntp_2?: string;
};

/** What a key of `kind` accepts, for the message that refuses a value (built only then, as `keySpecs`). */
function expected(kind: Kind): string {
  const texts: { [K in Kind]: string } = {
    level: '"debug", "info", "warning" or "error"',
    string: 'a string',
    file: 'a file name, or false for none',
    boolean: 'true or false',
    port: 'a port number from 1 to 65535',
    url: 'an http:// or https:// URL',
    duration: 'a number of seconds or a string such as "90s", "30m", "6h", "1d"',
    interval: 'a number of seconds or a string such as "90s", "30m", "6h", "1d", above 0',
    fraction: 'a number from 0 to 1',
    count: 'a whole number from 1 to 100',
    bytes: 'a whole number of bytes (0 or more)',
    format: '"" or "esp32"',
    window: 'a time range "HH:MM-HH:MM" in UTC, such as "02:00-04:30"',
    strings: 'a list of strings',
    origins: 'a list of origins such as "https://cdn.example.com" (scheme, host and port only)',
    protocol: '"auto", "native", "iotaap" or "hawkbit"',
    version: 'a version such as "1.0.2" (semantic versions are ordered; other text is compared for equality only)',
  };
  return texts[kind];
}

/** Number.MAX_SAFE_INTEGER, which Espruino lacks. */
const MAX_SAFE = 9007199254740991;

function convert(kind: Kind, v: unknown): { ok: true; value: unknown } | { ok: false } {
  switch (kind) {
    case 'level': {
      const level = typeof v === 'string' ? v.toUpperCase() : '';
      return LOG_LEVELS.indexOf(level) >= 0 ? { ok: true, value: level } : { ok: false };
    }
    case 'string':
      return typeof v === 'string' ? { ok: true, value: v } : { ok: false };
    case 'file':
      // false turns the file off: "" cannot, as an empty string keeps the default.
      return typeof v === 'string' ? { ok: true, value: v } : v === false ? { ok: true, value: '' } : { ok: false };
    case 'boolean':
      return typeof v === 'boolean' ? { ok: true, value: v } : { ok: false };
    case 'port': {
      const n = typeof v === 'string' ? parseDecimal(v) : v;
      return typeof n === 'number' && n % 1 === 0 && n >= 1 && n <= 65535 ? { ok: true, value: n } : { ok: false };
    }
    case 'url':
      if (typeof v !== 'string') return { ok: false };
      if (v.indexOf('http://') !== 0 && v.indexOf('https://') !== 0) return { ok: false };
      return { ok: true, value: v.charAt(v.length - 1) === '/' ? v.slice(0, -1) : v };
    case 'duration':
    case 'interval': {
      // An interval of 0 would make a loop without a pause (checks, retries, timeouts).
      const n = parseDuration(v);
      return isNaN(n) || (kind === 'interval' && n === 0) ? { ok: false } : { ok: true, value: n };
    }
    case 'fraction':
      return typeof v === 'number' && v >= 0 && v <= 1 ? { ok: true, value: v } : { ok: false };
    case 'count':
      return typeof v === 'number' && v % 1 === 0 && v >= 1 && v <= 100 ? { ok: true, value: v } : { ok: false };
    case 'bytes':
      return typeof v === 'number' && v % 1 === 0 && v >= 0 && v <= MAX_SAFE ? { ok: true, value: v } : { ok: false };
    case 'format':
      return v === 'esp32' ? { ok: true, value: v } : { ok: false };
    case 'strings':
      if (!Array.isArray(v) || v.length > 64) return { ok: false };
      for (const x of v) if (typeof x !== 'string' || x === '') return { ok: false };
      return { ok: true, value: v.slice() };
    case 'origins':
      if (!Array.isArray(v) || v.length > 64) return { ok: false };
      // Written as the origin itself: a path would suggest a narrower trust than is given.
      for (const x of v) if (typeof x !== 'string' || originOf(x) !== (x.charAt(x.length - 1) === '/' ? x.slice(0, -1) : x).toLowerCase()) return { ok: false };
      return { ok: true, value: v.map((x: string) => originOf(x)) };
    case 'window':
      return typeof v === 'string' && parseWindow(v) !== null ? { ok: true, value: v } : { ok: false };
    case 'protocol':
      return v === 'auto' || v === 'native' || v === 'iotaap' || v === 'hawkbit' ? { ok: true, value: v } : { ok: false };
    case 'version':
      return typeof v === 'string' ? { ok: true, value: v } : { ok: false };
  }
}

/** A validated configuration and the warnings met while reading it. */
export interface ConfigResult {
  config: OtaConfig;
  warnings: string[];
}

/**
 * Validates a configuration object (the parsed default.cfg, or options given in code).
 * Throws an OtaError `CONFIG_INVALID` naming `source`, the key and the expected type.
 */
export function resolveConfig(input: unknown, source = 'config'): ConfigResult {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw otaError('CONFIG_INVALID', 'config', source + ': expected a JSON object of settings');
  }
  const raw = input as { [key: string]: unknown };
  const out: { [key: string]: unknown } = {};
  const warnings: string[] = [];
  const specs = keySpecs();
  for (const key of Object.keys(specs)) {
    const spec = specs[key as keyof OtaConfig];
    const v = raw[key];
    // As in IoTaaP OS (InitDataFromSystemJson copies only non-empty strings), an empty string (or null) keeps the default.
    if (v === undefined || v === null || v === '') {
      out[key] = spec.value;
      continue;
    }
    const r = convert(spec.kind, v);
    if (!r.ok) {
      throw otaError(
        'CONFIG_INVALID',
        'config',
        // A secret's value is not repeated: the message reaches stderr and logs.
        source + ': key "' + key + '" is ' + (SECRET_KEYS.indexOf(key) >= 0 ? 'a ' + typeof v : JSON.stringify(v)) + '; expected ' + expected(spec.kind),
      );
    }
    out[key] = r.value;
  }
  for (const key of Object.keys(raw)) {
    if (!(key in specs) && FOREIGN_KEYS.indexOf(key) < 0) warnings.push(source + ': unknown key "' + key + '" ignored');
  }
  if (out.allow_downgrade === true && (out.public_keys as string[]).length === 0) {
    warnings.push(source + ': "allow_downgrade" has no effect without "public_keys": only a signed manifest can mark a downgrade');
  }
  if (isPlainRemote(String(out.ota_domain)) && out.allow_http === true) {
    warnings.push(source + ': plain HTTP to ' + String(out.ota_domain) + ' (allow_http): updates and tokens travel unencrypted');
  }
  const config = out as unknown as OtaConfig;
  if ((config.slot_a === '') !== (config.slot_b === '')) {
    throw otaError('CONFIG_INVALID', 'config', source + ': keys "slot_a" and "slot_b" go together; set both (raw slots) or neither (file slots)');
  }
  if (config.min_check_interval > config.max_check_interval) {
    throw otaError('CONFIG_INVALID', 'config', source + ': key "min_check_interval" (' + config.min_check_interval + ' s) is above "max_check_interval" (' + config.max_check_interval + ' s)');
  }
  if (config.public_keys.length > 0 && config.protocol !== 'native' && config.protocol !== 'auto') {
    throw otaError('CONFIG_INVALID', 'config', source + ': key "public_keys" needs protocol "native" (the ' + config.protocol + ' protocol has no signed manifests)');
  }
  if ((config.client_cert === '') !== (config.client_key === '')) {
    throw otaError('CONFIG_INVALID', 'config', source + ': keys "client_cert" and "client_key" go together; set both or neither');
  }
  if (isPlainRemote(config.ota_domain) && !config.allow_http) {
    throw otaError('CONFIG_INVALID', 'config', source + ': key "ota_domain" is plain HTTP to another machine (' + config.ota_domain + '); use https://, or set "allow_http": true to accept the risk');
  }
  if (config.device_id === '') {
    throw otaError('CONFIG_INVALID', 'config', source + ': key "device_id" is missing or empty; expected the device id known to the update server');
  }
  return { config, warnings };
}

/** Parses the text of a default.cfg file. */
export function parseConfig(text: string, source = 'default.cfg'): ConfigResult {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw otaError('CONFIG_INVALID', 'config', source + ': not valid JSON (' + (e instanceof Error ? e.message : String(e)) + ')');
  }
  return resolveConfig(data, source);
}

/** Every key with its default, as a default.cfg holds them (for `ota config init`). */
export function defaultSettings(): { [key: string]: unknown } {
  const out: { [key: string]: unknown } = {};
  const specs = keySpecs();
  for (const key of Object.keys(specs)) out[key] = specs[key as keyof OtaConfig].value;
  return out;
}
