/**
 * Trial boots under `ota run` (the launcher a supervisor such as systemd restarts): an application
 * that crashes, hangs, fails its health check or never confirms is reverted; one that confirms
 * stays confirmed across restarts. Real processes, real files, a real update server.
 */
import { spawn } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, configFile, device, readFileOrEmpty, releaseDir, runCli, serve, sha256, testUpdater } from './helpers/fixtures.js';

const INDEX = join(process.cwd(), 'dist/index.cjs');

/** A CommonJS application image: `behaviour` decides what it does on its trial boot. */
function app(version: string, behaviour: 'confirm' | 'crash' | 'hang'): Buffer {
  return Buffer.from(`// app ${version}
const state = process.env.OTA_BOOT_STATE;
console.log('app ${version} running (' + state + ')');
if (state === 'trial') {
  if ('${behaviour}' === 'crash') process.exit(1);
  if ('${behaviour}' === 'hang') setInterval(() => {}, 1000);
  if ('${behaviour}' === 'confirm') require(${JSON.stringify(INDEX)}).defaultUpdater().confirm().then(() => console.log('confirmed'));
}
`);
}

async function setup(next: Buffer, settings: Record<string, unknown> = {}) {
  const { dir } = await releaseDir('1.1.0', next);
  const server = await serve(dir);
  const stateDir = await device('1.0.0', app('1.0.0', 'confirm'));
  const cfg = configFile({ ota_domain: server.url, device_id: 'dev1', ...settings });
  // Install 1.1.0 with the library; its reboot is what the supervisor's restart does below.
  const { updater } = testUpdater({ ota_domain: server.url, device_id: 'dev1', ...settings }, stateDir);
  expect((await updater.checkForUpdates()).status).toBe('updated');
  return { server, stateDir, cfg, updater };
}

/** Starts `ota run` as systemd would (its own process group), running `node <state>/current`. */
function startRun(cfg: string, stateDir: string) {
  const p = spawn(process.execPath, [CLI, 'run', '--config', cfg, '--state-dir', stateDir, '--', process.execPath, join(stateDir, 'current')], { detached: true });
  let output = '';
  p.stdout.on('data', (d) => (output += d));
  p.stderr.on('data', (d) => (output += d));
  const done = new Promise<{ code: number | null; output: string }>((resolve) => p.on('close', (code) => resolve({ code, output })));
  return { pid: p.pid!, done };
}

const otaRun = (cfg: string, stateDir: string) => startRun(cfg, stateDir).done;

function bootState(stateDir: string) {
  return JSON.parse(readFileSync(join(stateDir, 'boot.json'), 'utf8'));
}

async function status(stateDir: string) {
  return JSON.parse((await runCli(['device', 'status', '--state-dir', stateDir])).stdout);
}

describe('trial boots under ota run', () => {
  it('confirms an application that confirms itself, and the confirmation persists across restarts', async () => {
    const next = app('1.1.0', 'confirm');
    const { stateDir, cfg, server } = await setup(next);
    expect(await status(stateDir)).toMatchObject({ slot: 'a', state: 'confirmed', pending: 'b' });
    const first = await otaRun(cfg, stateDir);
    expect(first.output).toContain('app 1.1.0 running (trial)');
    expect(first.output).toContain('confirmed');
    expect(first.code).toBe(0);
    expect(readlinkSync(join(stateDir, 'current'))).toBe('slots/b.bin');
    for (let i = 0; i < 2; i++) {
      const again = await otaRun(cfg, stateDir);
      expect(again.output).toContain('app 1.1.0 running (confirmed)');
    }
    expect(await status(stateDir)).toMatchObject({ slot: 'b', version: '1.1.0', sha256: sha256(next), state: 'confirmed', intact: true });
    expect(bootState(stateDir)).toMatchObject({ confirmed: 'b', trial: null, attempts: 0 });
    expect(server.reports.map((r) => (r.report as { stage: string }).stage)).toEqual(['downloading', 'installed', 'confirmed']);
  });

  it('reverts an application that crashes on every trial boot after the configured attempts, reports it, and never installs it again', async () => {
    const { stateDir, cfg, server, updater } = await setup(app('1.1.0', 'crash'), { boot_attempts: 2 });
    for (let attempt = 1; attempt <= 2; attempt++) {
      const run = await otaRun(cfg, stateDir);
      expect(run.code).toBe(1);
      expect(run.output).toContain('app 1.1.0 running (trial)');
      expect(bootState(stateDir)).toMatchObject({ trial: 'b', attempts: attempt, booted: 'b' });
      expect(await status(stateDir)).toMatchObject({ slot: 'b', state: 'trial' });
    }
    const third = await otaRun(cfg, stateDir);
    expect(third.output).toContain('Update reverted: slot b (1.1.0) was not confirmed within 2 boot attempts');
    expect(third.output).toContain('app 1.0.0 running (reverted)');
    expect(third.code).toBe(0);
    expect(await status(stateDir)).toMatchObject({ slot: 'a', version: '1.0.0', state: 'reverted', intact: true });
    expect(server.reports.at(-1)!.report).toMatchObject({ stage: 'failed', version: '1.1.0', reverted: true });
    const again = await updater.checkForUpdates();
    expect(again.status === 'failed' && again.error.code).toBe('IMAGE_REJECTED');
  });

  it('counts a power cut during the trial boot as an attempt and still ends on a good slot', async () => {
    const { stateDir, cfg } = await setup(app('1.1.0', 'hang'), { confirm_timeout: 0 });
    for (let attempt = 1; attempt <= 3; attempt++) {
      const run = startRun(cfg, stateDir);
      // Wait for the application to run, then cut the power: SIGKILL the launcher and the application.
      while (!readFileOrEmpty(join(stateDir, 'boot.json')).includes('"attempts": ' + attempt)) await sleep(10);
      await sleep(300);
      process.kill(-run.pid, 'SIGKILL');
      await run.done;
      expect(bootState(stateDir)).toMatchObject({ trial: 'b', attempts: attempt });
    }
    const after = await otaRun(cfg, stateDir);
    expect(after.output).toContain('app 1.0.0 running (reverted)');
    expect(await status(stateDir)).toMatchObject({ slot: 'a', state: 'reverted', intact: true });
  });

  it('reverts at once when the health check fails, and boots the previous slot next', async () => {
    const { stateDir, cfg } = await setup(app('1.1.0', 'hang'), { health_command: 'echo "no answer on :3000" >&2; exit 7' });
    const run = await otaRun(cfg, stateDir);
    expect(run.code).toBe(75);
    expect(run.output).toContain('Update reverted: health check "echo \\"no answer on :3000\\" >&2; exit 7" exited with code 7: no answer on :3000');
    const next = await otaRun(cfg, stateDir);
    expect(next.output).toContain('app 1.0.0 running (reverted)');
  });

  it('reverts when the health check runs past health_timeout, also a script whose child holds its output', async () => {
    // `sleep` is the shell's child here (not exec'd in its place): killing the shell alone leaves it running.
    const { stateDir, cfg } = await setup(app('1.1.0', 'hang'), { health_command: 'sleep 20; exit 0', health_timeout: 1 });
    const started = Date.now();
    const run = await otaRun(cfg, stateDir);
    expect(run.code).toBe(75);
    expect(run.output).toContain('health check "sleep 20; exit 0" was killed (SIGKILL, over 1 s)');
    expect(Date.now() - started).toBeLessThan(15_000); // not the 20 s the script would take
  });

  it('lets an application that confirmed itself pass a slower health check quietly', async () => {
    const { stateDir, cfg } = await setup(app('1.1.0', 'confirm'), { health_command: 'sleep 0.5' });
    const run = await otaRun(cfg, stateDir);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain('confirmed');
    expect(run.output).not.toContain('ERROR');
    expect(bootState(stateDir)).toMatchObject({ state: 'confirmed', confirmed: 'b' });
  });

  it('reverts an application that does not confirm within confirm_timeout', async () => {
    const { stateDir, cfg } = await setup(app('1.1.0', 'hang'), { confirm_timeout: 0.5 });
    const run = await otaRun(cfg, stateDir);
    expect(run.code).toBe(75);
    expect(run.output).toContain('Update reverted: slot b (1.1.0) was not confirmed within 0.5 s');
    expect(bootState(stateDir)).toMatchObject({ state: 'reverted', trial: null });
  });
});


function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}
