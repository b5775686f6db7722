/**
 * A whole device in memory for scheduler tests driven by a fake clock: memory slots and state, a
 * scripted protocol adapter and an in-process transport (nothing crosses a socket, so the fake
 * clock alone decides when things happen).
 */
import { createHash } from 'node:crypto';
import { crc32 } from '../../src/download/crc32.js';
import { sha256Hasher } from '../../src/platform/node/platform.js';
import { resolveConfig } from '../../src/config/config.js';
import { otaError } from '../../src/errors.js';
import type { Platform, Transport } from '../../src/platform/interfaces.js';
import type { Protocol } from '../../src/check/protocol.js';
import type { Release } from '../../src/check/release.js';
import { memorySelector } from '../../src/boot/memory-selector.js';
import { memorySlots } from '../../src/install/memory-slots.js';
import { memoryState } from '../../src/platform/memory-state.js';
import { Updater } from '../../src/updater/updater.js';
import { fakeClock } from './fake-clock.js';

/** What the scripted server answers to a check: a release, none, or an error status. */
export type Answer = { version: string } | 'none' | { status: number; retryAfterMs?: number };

export function memoryDevice(settings: Record<string, unknown>, answers: () => Answer, options: { epoch?: number; suggestMs?: number; allocationFailed?: () => boolean; report?: Protocol['report'] } = {}) {
  const clock = fakeClock(options.epoch);
  const image = Buffer.alloc(4096, 7);
  const lines: string[] = [];
  const checks: number[] = [];
  let downloads = 0;
  const release = (version: string): Release => ({
    version,
    size: image.length,
    sha256: createHash('sha256').update(image).digest('hex'),
    chunkSize: 1024,
    chunkCrc32: [0, 1, 2, 3].map((i) => crc32(image.subarray(i * 1024, (i + 1) * 1024))),
    url: 'mem://image',
    overrideRejected: false,
  });
  const protocol: Protocol = {
    async check() {
      checks.push(clock.now());
      const a = answers();
      if (a === 'none') return null;
      if ('status' in a) throw otaError('HTTP_STATUS', 'check', 'server answered HTTP ' + a.status, { status: a.status, retryable: a.status >= 500 || a.status === 429, retryAfterMs: a.retryAfterMs });
      return release(a.version);
    },
    downloadHeaders: () => ({}),
    report: options.report ?? (async () => undefined),
    suggestedIntervalMs: () => options.suggestMs ?? null,
  };
  const transport: Transport = {
    request: async () => ({ status: 404, headers: {}, body: '' }),
    async stream(_req, handlers) {
      downloads++;
      handlers.onResponse(200, {});
      await handlers.onData(image);
    },
  };
  const reboots: string[] = [];
  const platform: Platform = {
    transport,
    slots: memorySlots(),
    bootSelector: memorySelector(),
    state: memoryState(),
    clock,
    logger: { log: (level, message) => lines.push(level + ' ' + message) },
    sha256: sha256Hasher,
    crc32,
    reboot: async (r) => void reboots.push(r.version),
    random: () => 0.5,
    allocationFailed: options.allocationFailed,
  };
  const { config } = resolveConfig({ device_id: 'dev1', firmware_version: '1.0.0', ...settings });
  const updater = new Updater({ config, platform, protocol });
  return { updater, platform, clock, lines, checks, reboots, downloads: () => downloads };
}
