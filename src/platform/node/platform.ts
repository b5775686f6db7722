/** The Node platform: axios transport, file slots and state, real timers, stderr log, process reboot. */
import { crc32 } from '../../download/crc32.js';
import { timerClock } from '../../schedule/timer-clock.js';
import { join, resolve } from 'node:path';
import { rotatingFile } from './log-file.js';
import { mqttOptions, mqttTrigger, type MqttTriggerOptions } from './mqtt-trigger.js';
import { formatLogLine } from '../../log/log-line.js';
import type { Clock, Hasher, Logger, LogLevel, Platform, RebootRequest } from '../interfaces.js';
import { atLevel } from '../../log/log-level.js';
import { systemErrorText, worded, type AddressSetting } from './system-error.js';
import { rmSync } from 'node:fs';
import { SECRET_KEYS, type OtaConfig } from '../../config/config.js';
import { masker, redacting } from '../../log/redact.js';
import { currentLink } from '../../boot/current-link.js';
import { grubSelector, type GrubOptions } from '../../boot/grub-env.js';
import { ubootSelector, type UbootOptions } from '../../boot/uboot-env.js';
import { blockSlots, fileSlots } from '../../install/file-slots.js';
import { readTextOrNull } from './file-ops.js';
import { fileState } from './file-state.js';
import { nodeGunzip } from './gunzip.js';
import { nodeTransport, type AddressOf, type TlsOptions } from './transport.js';
import { nodeTrust } from './trust.js';
import { cryptoModule, zlibModule } from './lazy-modules.js';
import { runShellCommand } from './shell-command.js';

/**
 * Exit code of the default Node reboot. A supervisor restarts the agent into the new slot, e.g.
 * systemd with `Restart=on-failure` and `RestartForceExitStatus=75`.
 */
export const REBOOT_EXIT_CODE = 75;

/** Options of {@link nodePlatform}. */
export interface NodePlatformOptions {
  /** Directory of the state files, the file slots (`slots/a.bin`, `slots/b.bin`) and the `current` link. */
  stateDir: string;
  /** Largest image a slot accepts, in bytes. */
  slotCapacity?: number;
  /** Raw slots (partitions) instead of file slots; the boot selector is then the boot loader's environment. */
  rawSlots?: { a: string; b: string };
  /** With raw slots: U-Boot's environment tools (the default), or GRUB's environment block. */
  uboot?: UbootOptions;
  grub?: GrubOptions;
  /** Shell command that reboots the device (e.g. "systemctl reboot") instead of exiting with 75. */
  rebootCommand?: string;
  /** Also append log lines to this file, rotated by size. */
  logFile?: { path: string; maxBytes: number; keep: number };
  /** Listen for remote "update now" requests on this MQTT broker. */
  mqtt?: MqttTriggerOptions;
  /** Ed25519 public key files trusted to sign manifests. */
  publicKeys?: string[];
  /** HTTPS: CA file, and SHA-256 pins of the server's public key. */
  tls?: TlsOptions;
  /** Plain HTTP to other machines is allowed (`allow_http`); else refused on every hop. */
  allowHttp?: boolean;
  /** Where the update server's address was given, named when it refuses a connection (default `ota_domain`), or told by the URL. */
  addressSetting?: AddressOf;
  /** Replaces the default reboot (exit with {@link REBOOT_EXIT_CODE}). */
  reboot?: (req: RebootRequest) => Promise<void>;
  /** Values masked in every log line (the configuration's tokens and passwords). */
  secrets?: string[];
  /** Replaces the default logger (stderr, and `logFile`). */
  logger?: Logger;
  /** Least important line the default logger writes (default INFO). */
  logLevel?: LogLevel;
}

/** zlib's CRC-32 (Node 20.15 and later), about three times faster than the portable one. */
function nativeCrc32(): ((data: Uint8Array) => number) | undefined {
  const zlibCrc32 = (zlibModule() as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
  return zlibCrc32 ? (data) => zlibCrc32(data, 0) >>> 0 : undefined;
}

let chunkCrc32: ((data: Uint8Array) => number) | undefined;

/** CRC-32 of a chunk, choosing (and loading zlib) at the first chunk. */
const crc32OfChunk = (data: Uint8Array): number => (chunkCrc32 ??= nativeCrc32() ?? crc32)(data);

/** Real time: monotonic `now`, Node timers. */
export const systemClock: Clock = timerClock(() => performance.now());

/**
 * A logger writing IoTaaP-style lines to stderr and, optionally, a size-capped rotating file.
 * Logging never throws: a file that cannot be written (full disk, read-only, a directory in the
 * way) is said once on stderr, and tried again with the next line.
 */
function nodeLogger(logFile?: { path: string; maxBytes: number; keep: number }): Logger {
  const toFile = logFile ? rotatingFile(logFile.path, logFile.maxBytes, logFile.keep) : null;
  let failing = false;
  return {
    log(level, message) {
      const line = formatLogLine(new Date(), level, message);
      process.stderr.write(line + '\n');
      if (!toFile) return;
      try {
        toFile(line);
        failing = false;
      } catch (e) {
        if (!failing) process.stderr.write(formatLogLine(new Date(), 'WARNING', 'cannot write the log file: ' + (systemErrorText(e) ?? logFile!.path + ' refused the write') + '; logging to stderr only until it works again') + '\n');
        failing = true;
      }
    },
  };
}

/** The platform options a configuration asks for. */
export function platformOptions(config: OtaConfig, stateDir: string): NodePlatformOptions {
  return {
    stateDir,
    slotCapacity: config.slot_size || undefined,
    rawSlots: config.slot_a ? { a: config.slot_a, b: config.slot_b } : undefined,
    uboot: { fwSetenv: config.fw_setenv, fwPrintenv: config.fw_printenv, config: config.fw_env_config, cmdline: config.kernel_cmdline },
    grub: config.grubenv ? { grubenv: config.grubenv, cmdline: config.kernel_cmdline } : undefined,
    rebootCommand: config.reboot_command || undefined,
    logFile: config.log_file ? { path: resolve(stateDir, config.log_file), maxBytes: config.log_max_size, keep: config.log_files } : undefined,
    mqtt: mqttOptions(config),
    publicKeys: config.public_keys,
    tls: { caFile: config.ca_file || undefined, pins: config.pin_sha256, clientCert: config.client_cert || undefined, clientKey: config.client_key || undefined },
    allowHttp: config.allow_http,
    addressSetting: addressOf(config.ota_domain),
    secrets: SECRET_KEYS.map((k) => String(config[k as keyof OtaConfig])),
    logLevel: config.log_level,
  };
}

/**
 * Names where a URL came from when its server refuses: `ota_domain` for its own origin; else the
 * update server gave it (a manifest's absolute `url` on a CDN, a hawkBit artifact link).
 */
function addressOf(otaDomain: string): (url: string) => AddressSetting {
  const home = originOf(otaDomain);
  return (url) => (home !== null && originOf(url) === home ? 'ota_domain' : 'the download URL from the update server');
}

function originOf(url: string): string | null {
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}

/**
 * Longest wait, in seconds, for `reboot_command`. A reboot command returns once the reboot is
 * under way (or the system stops the agent first); one that hangs must not keep the agent stuck.
 */
export const REBOOT_TIMEOUT_SEC = 60;

/**
 * The reboot that runs `command`, killed with what it started after `timeoutSec`; it rejects
 * naming reboot_command when the command fails or hangs (the updater tries again later).
 */
export function commandReboot(command: string, timeoutSec = REBOOT_TIMEOUT_SEC): () => Promise<void> {
  return async () => {
    const outcome = await runShellCommand('reboot_command', command, {}, timeoutSec);
    if (!outcome.ok) throw new Error(outcome.reason);
  };
}

/** A node:crypto hash, as the core's Hasher. */
function nodeHasher(algorithm: 'sha256' | 'sha1' | 'md5'): Hasher {
  const h = cryptoModule().createHash(algorithm);
  return { update: (d) => h.update(d), digest: () => h.digest('hex') };
}

/** SHA-256 with node:crypto, as the core's Hasher. */
export function sha256Hasher(): Hasher {
  return nodeHasher('sha256');
}

let bootId: string | null | undefined;

/** Linux's random id of the running system boot, read once; null where there is none (no /proc). */
function linuxBootId(): string | null {
  if (bootId === undefined) {
    bootId = readTextOrNull('/proc/sys/kernel/random/boot_id')?.trim() || null;
  }
  return bootId;
}

/** Builds the Node platform for a device whose files live in `options.stateDir`. */
export function nodePlatform(options: NodePlatformOptions): Platform {
  const raw = options.rawSlots;
  if (raw && !options.slotCapacity) throw new Error('raw slots need their size (slot_size)');
  // Masked here too: the MQTT trigger and the CLI log through this logger, not the updater's.
  const logger = redacting(options.logger ?? atLevel(nodeLogger(options.logFile), options.logLevel ?? 'INFO'), masker(options.secrets ?? []));
  // Operating-system refusals in words (no EROFS in messages or the log).
  const slots = worded(raw ? blockSlots(raw, options.slotCapacity!) : fileSlots(join(options.stateDir, 'slots'), options.slotCapacity));
  const state = worded(fileState(options.stateDir));
  const staging = fileSlots(join(options.stateDir, 'transfers'));
  return {
    transport: nodeTransport(options.tls, options.allowHttp, options.addressSetting),
    slots,
    bootSelector: worded(!raw ? currentLink(options.stateDir, slots) : options.grub ? grubSelector(options.grub) : ubootSelector(options.uboot)),
    state,
    clock: systemClock,
    logger,
    sha256: sha256Hasher,
    digest: nodeHasher,
    crc32: crc32OfChunk,
    reboot:
      options.reboot ??
      (options.rebootCommand
        ? commandReboot(options.rebootCommand)
        : async () => {
            process.exit(REBOOT_EXIT_CODE);
          }),
    random: Math.random,
    trigger: options.mqtt ? mqttTrigger(options.mqtt, logger, state) : undefined,
    trust: options.publicKeys && options.publicKeys.length > 0 ? nodeTrust(options.publicKeys) : undefined,
    // Patches and compressed images are staged beside the state before they are decoded into a slot.
    transfers: { staging, gunzip: nodeGunzip, discard: async (slot) => rmSync(staging.locate(slot), { force: true }) },
    systemBootId: linuxBootId,
  };
}
