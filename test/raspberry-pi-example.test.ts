/**
 * examples/raspberry-pi as systemd would run it: the application directory (with a real
 * dependency, semver, in its node_modules) is a bundle; `ota run` starts its entry from the active
 * slot; 1.0.0 finds 1.0.1 (published as a delta), installs it and exits 75; the restart boots
 * 1.0.1 on trial and it confirms itself after its own health check.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, configFile, onCleanup, runCli, serve, tempDir } from './helpers/fixtures.js';

const APP = join(process.cwd(), 'examples/raspberry-pi/app');

/** The application directory as `npm install --omit=dev` leaves it, at `version`. */
function appBundle(version: string): string {
  const dir = join(tempDir(), 'app');
  cpSync(APP, dir, { recursive: true });
  cpSync(join(process.cwd(), 'node_modules/semver'), join(dir, 'node_modules/semver'), { recursive: true });
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ ...pkg, version }, null, 2));
  return dir;
}

function otaRun(cfg: string, stateDir: string, nodePath: string) {
  const p = spawn(process.execPath, [CLI, 'run', '--config', cfg, '--state-dir', stateDir], {
    env: { ...process.env, NODE_PATH: nodePath, APP_PORT: '0' },
  });
  onCleanup(() => p.kill('SIGKILL'));
  let output = '';
  p.stdout.on('data', (d) => (output += d));
  p.stderr.on('data', (d) => (output += d));
  const done = new Promise<number | null>((resolve) => p.on('close', resolve));
  return { process: p, done, output: () => output };
}

describe('examples/raspberry-pi', () => {
  it('updates itself by a delta, restarts into the new slot on trial and confirms itself', async () => {
    // ota-client as the board has it installed: /opt/ota/node_modules, on NODE_PATH.
    const modules = join(tempDir(), 'node_modules');
    mkdirSync(modules);
    symlinkSync(process.cwd(), join(modules, 'ota-client'));

    const releases = join(tempDir(), 'releases');
    const publish = (version: string, ...extra: string[]) =>
      runCli(['publish', '--dir', releases, '--bundle', appBundle(version), '--version', version, '--device', 'dev1', ...extra]);
    expect((await publish('1.0.0')).code).toBe(0);
    expect((await publish('1.0.1', '--delta-from', '1.0.0')).stdout).toContain('delta from');
    const server = await serve(releases);
    const stateDir = join(tempDir(), 'ota');
    expect((await runCli(['device', 'init', '--state-dir', stateDir, '--version', '1.0.0', '--bundle', appBundle('1.0.0')])).code).toBe(0);
    const cfg = configFile({ ota_domain: server.url, device_id: 'dev1', auto_update: true, first_check_delay: 0, state_dir: stateDir });

    const first = otaRun(cfg, stateDir, modules);
    expect(await first.done).toBe(75);
    expect(first.output()).toContain('app 1.0.0 (1.x line) listening');
    expect(first.output()).toContain('updating 1.0.0 -> 1.0.1');
    expect(first.output()).toContain('delta');

    const second = otaRun(cfg, stateDir, modules);
    while (!readFileSync(join(stateDir, 'boot.json'), 'utf8').includes('"state": "confirmed"') || !second.output().includes('No new updates')) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(second.output()).toContain('app 1.0.1 (1.x line) listening');
    expect(second.output()).toContain('(trial) from ' + join(stateDir, 'slots/b'));
    second.process.kill('SIGTERM');
    expect(await second.done).toBe(0);
    const status = JSON.parse((await runCli(['device', 'status', '--state-dir', stateDir])).stdout);
    expect(status).toMatchObject({ slot: 'b', version: '1.0.1', state: 'confirmed', intact: true });
    expect(server.reports.map((r) => (r.report as { stage: string }).stage)).toEqual(['downloading', 'installed', 'confirmed']);
  });
});
