/** Shared test fixtures: temp dirs, images, a release server, the CLI, a recording platform. */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';
import { createUpdater } from '../../src/index.js';
import type { Clock, LogLevel, Platform, RebootRequest } from '../../src/platform/interfaces.js';
import { systemClock } from '../../src/platform/node/platform.js';
import { describeImage, publish, type Audience } from '../../src/server/release-store.js';
import { startServer, type UpdateServer } from '../../src/server/server.js';
import { initDevice } from '../../src/cli/device.js';

export const CLI = fileURLToPath(new URL('../../dist/cli.cjs', import.meta.url));

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** A temporary directory removed after the test. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ota-test-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Registers something to close after the test. */
export function onCleanup(fn: () => unknown): void {
  cleanups.push(fn);
}

/** Starts `server` on a free port of 127.0.0.1, closed (connections too) after the test; its base URL. */
export async function listenLocal(server: Server & { closeAllConnections?: () => void }): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onCleanup(() => new Promise<void>((r) => (server.close(() => r()), server.closeAllConnections?.())));
  return 'http://127.0.0.1:' + (server.address() as AddressInfo).port;
}

/** Deterministic pseudo-random bytes (xorshift), so images differ by seed but not by run. */
export function image(size: number, seed = 1): Buffer {
  const b = Buffer.alloc(size);
  let x = seed * 2654435761 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A release directory with one published image; returns the directory and the image. */
export async function releaseDir(version: string, data: Buffer, audience: Audience = { device: 'dev1' }, chunkSize?: number) {
  const dir = tempDir();
  const file = join(dir, 'upload.bin');
  writeFileSync(file, data);
  const manifest = await publish({ dir: join(dir, 'releases'), file, version, audience, chunkSize });
  rmSync(file);
  return { dir: join(dir, 'releases'), manifest };
}

/** Starts `ota serve`'s server in-process on a free port. */
export async function serve(dir: string): Promise<UpdateServer> {
  const server = await startServer({ dir, port: 0 });
  cleanups.push(() => server.close());
  return server;
}

/** A simulated device at `version` whose slot a holds `data`. */
export async function device(version: string, data: Buffer = image(5000, 99)) {
  const stateDir = tempDir();
  const file = join(stateDir, 'initial.bin');
  writeFileSync(file, data);
  await initDevice(stateDir, version, file);
  return stateDir;
}

/** Writes a default.cfg and returns its path. */
export function configFile(settings: Record<string, unknown>): string {
  const path = join(tempDir(), 'default.cfg');
  writeFileSync(path, JSON.stringify(settings));
  return path;
}

/** Runs the built `ota` CLI; never rejects. */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [CLI, ...args], { env: Object.assign({}, process.env, env), timeout: 60000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

/** Starts a long-running CLI command (e.g. `serve`) and resolves with its first line of output. */
export function startCli(args: string[]): Promise<string> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanups.push(() => {
    child.kill('SIGKILL');
  });
  return new Promise((resolveLine, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolveLine(out.slice(0, nl));
    });
    child.on('exit', (code) => reject(new Error('ota ' + args.join(' ') + ' exited with ' + code)));
  });
}

/** An updater on a simulated device with a recording logger and reboot, and optional platform parts. */
export function testUpdater(settings: Record<string, unknown>, stateDir: string, platform: Partial<Platform> = {}) {
  const lines: { level: LogLevel; message: string }[] = [];
  const reboots: RebootRequest[] = [];
  const updater = createUpdater({
    config: settings,
    stateDir,
    platform: {
      logger: { log: (level, message) => lines.push({ level, message }) },
      reboot: async (r) => {
        reboots.push(r);
      },
      ...platform,
    },
  });
  return { updater, lines, reboots };
}

/** Writes a file (helper for hand-made manifests). */
export function writeJson(path: string, value: unknown): void {
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value));
}

/** A native manifest for `data` whose `url` is "image.bin" (what the fault server serves). */
export async function manifestFor(data: Buffer, chunkSize = 4096, version = '1.0.3') {
  const file = join(tempDir(), 'image.bin');
  writeFileSync(file, data);
  const d = await describeImage(file, chunkSize);
  return { ver: version, size: d.size, sha256: d.sha256, chunk_size: chunkSize, chunk_crc32: d.crcs, url: 'image.bin' };
}

/** Real timers that fire at once, recording the delays asked for: waits are checked, not waited. */
export function compressedClock(): { clock: Clock; delays: number[] } {
  const delays: number[] = [];
  return {
    delays,
    clock: {
      now: systemClock.now,
      date: systemClock.date,
      setTimer(fn, ms) {
        if (ms > 0) delays.push(ms);
        return systemClock.setTimer(fn, 0);
      },
    },
  };
}

/** A file's text, or "" when it does not exist (yet). */
export function readFileOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Polls `test` until it holds; fails after `ms` naming `what` it waited for. */
export async function until(what: string, test: () => boolean | Promise<boolean>, ms = 20000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 25));
  }
}
