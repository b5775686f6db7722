/**
 * One agent per state directory: a second `ota device` on the same directory says which process
 * holds it and exits with its own code; a lock left by a crashed agent (its process gone, or its
 * pid reused by another process) is taken over.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../src/cli/exit-codes.js';
import { LOCK_FILE, lockStateDir, runningAgent } from '../src/platform/node/state-lock.js';
import { agent } from './helpers/agent.js';
import { CLI, configFile, device, image, listenLocal, onCleanup, releaseDir, runCli, serve, tempDir, until } from './helpers/fixtures.js';

describe('the state directory lock', () => {
  it('refuses a second agent, naming the pid of the first, with exit code ' + EXIT.LOCKED, async () => {
    const server = await serve((await releaseDir('1.0.0', image(1000))).dir);
    const stateDir = await device('1.0.0');
    // Automatic checks keep the first agent running (its first check an hour away).
    const cfg = configFile({ ota_domain: server.url, device_id: 'dev1', auto_update: true, first_check_delay: 3600 });
    const first = spawn(process.execPath, [CLI, 'device', '--config', cfg, '--state-dir', stateDir], { stdio: 'ignore' });
    onCleanup(() => first.kill('SIGKILL'));
    await until('the first agent holds the lock', () => existsSync(join(stateDir, LOCK_FILE)));
    const second = await runCli(['device', '--once', '--config', cfg, '--state-dir', stateDir]);
    expect(second.code).toBe(EXIT.LOCKED);
    expect(runningAgent(stateDir)).toBe(first.pid);
    expect(second.stderr).toContain('another ota agent runs on the state directory ' + stateDir + ' (pid ' + first.pid + ')');
    // Killed without a chance to clean up: the next agent takes the directory over.
    first.kill('SIGKILL');
    await new Promise((r) => first.on('exit', r));
    expect(runningAgent(stateDir)).toBeNull();
    const third = await runCli(['device', '--once', '--config', cfg, '--state-dir', stateDir]);
    expect(third.code, third.stderr).toBe(0);
  });

  it('takes over a lock whose pid now belongs to another process (another start time)', () => {
    const dir = tempDir();
    // Our own parent runs, but it started at another time than the lock says.
    writeFileSync(join(dir, LOCK_FILE), process.ppid + ' 1\n');
    const release = lockStateDir(dir);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8').split(' ')[0]).toBe(String(process.pid));
    release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it('takes over a torn or empty lock file, and a lock of a process that exited', () => {
    const dir = tempDir();
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    for (const text of ['', '12ab', gone + '\n']) {
      writeFileSync(join(dir, LOCK_FILE), text);
      lockStateDir(dir)();
    }
  });
});

describe('the operator commands take the same lock', () => {
  it('init --force, install, mark-good, mark-bad and rollback refuse a state directory a running agent holds, touching nothing', async () => {
    const server = await serve((await releaseDir('1.0.0', image(1000))).dir);
    const stateDir = await device('1.0.0');
    const cfg = configFile({ ota_domain: server.url, device_id: 'dev1', auto_update: true, first_check_delay: 3600 });
    const fw = join(tempDir(), 'fw.bin');
    writeFileSync(fw, image(20_000, 3));
    const initial = readFileSync(join(stateDir, 'boot.json'), 'utf8');
    const running = agent(cfg, stateDir);
    // The agent records its boot after taking the lock: "before" is the state once that is written.
    await until('the agent holds the lock and recorded its boot', () => runningAgent(stateDir) === running.process.pid && readFileSync(join(stateDir, 'boot.json'), 'utf8') !== initial);
    const before = readFileSync(join(stateDir, 'boot.json'), 'utf8');
    const slotA = readFileSync(join(stateDir, 'slots/a.bin'));
    const common = ['--config', cfg, '--state-dir', stateDir];
    const answers = await Promise.all([
      runCli(['device', 'init', '--state-dir', stateDir, '--version', '2.0.0', '--force']),
      runCli(['device', 'install', ...common, '--version', '1.1.0', fw]),
      runCli(['device', 'mark-good', ...common]),
      runCli(['device', 'mark-bad', ...common]),
      runCli(['device', 'rollback', ...common]),
    ]);
    for (const r of answers) {
      expect(r.code, r.stderr).toBe(EXIT.LOCKED);
      expect(r.stderr).toContain('another ota agent runs on the state directory ' + stateDir + ' (pid ' + running.process.pid + ')');
    }
    expect(readFileSync(join(stateDir, 'boot.json'), 'utf8')).toBe(before);
    expect(readFileSync(join(stateDir, 'slots/b.bin')).length).toBe(0);
    expect(readFileSync(join(stateDir, 'slots/a.bin')).equals(slotA)).toBe(true);
    expect(runningAgent(stateDir)).toBe(running.process.pid);
  });

  it('an install holds the directory while it runs: the agent and mark-bad started meanwhile are refused, naming its pid', async () => {
    const fw = image(100_000, 4);
    let answer: () => void = () => undefined;
    const held = new Promise<void>((r) => (answer = r));
    let asked = 0;
    // Holds every request until told to answer, then sends the whole image (no ranges).
    const url = await listenLocal(
      createServer((_req, res) => {
        asked++;
        void held.then(() => res.writeHead(200, { 'content-length': String(fw.length) }).end(fw));
      }),
    );
    const stateDir = await device('1.0.0');
    const cfg = configFile({ ota_domain: url, device_id: 'dev1' });
    const install = spawn(process.execPath, [CLI, 'device', 'install', '--config', cfg, '--state-dir', stateDir, '--version', '1.1.0', url + '/fw.bin']);
    let output = '';
    install.stdout.on('data', (d) => (output += d));
    install.stderr.on('data', (d) => (output += d));
    const exited = new Promise<number | null>((r) => install.once('exit', r));
    onCleanup(() => install.exitCode === null && install.kill('SIGKILL'));
    await until('the install to ask for the image', () => asked > 0);
    const refused = await Promise.all([runCli(['device', '--once', '--config', cfg, '--state-dir', stateDir]), runCli(['device', 'mark-bad', '--config', cfg, '--state-dir', stateDir])]);
    for (const r of refused) {
      expect(r.code, r.stderr).toBe(EXIT.LOCKED);
      expect(r.stderr).toContain('(pid ' + install.pid + ')');
    }
    answer();
    expect(await exited, output).toBe(0);
    expect(output).toContain('updated 1.0.0 -> 1.1.0 (slot b, confirmed)');
    expect(runningAgent(stateDir)).toBeNull();
  });
});
