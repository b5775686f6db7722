/**
 * examples/raspberry-pi as systemd would run it: `ota run` starts the application from the
 * active slot; 1.0.0 finds 1.0.1, installs it and exits 75; the restart boots 1.0.1 on trial and
 * it confirms itself after its own health check.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, configFile, onCleanup, releaseDir, runCli, serve, tempDir } from './helpers/fixtures.js';

const APP = join(process.cwd(), 'examples/raspberry-pi/app.cjs');

function otaRun(cfg: string, stateDir: string, nodePath: string) {
  const p = spawn(process.execPath, [CLI, 'run', '--config', cfg, '--state-dir', stateDir, '--', process.execPath, join(stateDir, 'current')], {
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
  it('updates itself, restarts into the new slot on trial and confirms itself', async () => {
    // The package as an application sees it when installed: node_modules/ota-client.
    const modules = join(tempDir(), 'node_modules');
    mkdirSync(modules);
    symlinkSync(process.cwd(), join(modules, 'ota-client'));

    const v1 = readFileSync(APP);
    const v2 = Buffer.concat([v1, Buffer.from('// build 1.0.1\n')]);
    const { dir } = await releaseDir('1.0.1', v2);
    const server = await serve(dir);
    const stateDir = join(tempDir(), 'ota');
    const initial = join(tempDir(), 'app.cjs');
    writeFileSync(initial, v1);
    expect((await runCli(['device', 'init', '--state-dir', stateDir, '--version', '1.0.0', '--file', initial])).code).toBe(0);
    const cfg = configFile({ ota_domain: server.url, device_id: 'dev1', auto_update: true, first_check_delay: 0, state_dir: stateDir });

    const first = otaRun(cfg, stateDir, modules);
    expect(await first.done).toBe(75);
    expect(first.output()).toContain('app 1.0.0 listening');
    expect(first.output()).toContain('updating 1.0.0 -> 1.0.1');

    const second = otaRun(cfg, stateDir, modules);
    while (!readFileSync(join(stateDir, 'boot.json'), 'utf8').includes('"state": "confirmed"') || !second.output().includes('No new updates')) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(second.output()).toContain('app 1.0.1 listening');
    expect(second.output()).toContain('(trial)');
    second.process.kill('SIGTERM');
    expect(await second.done).toBe(0);
    const status = JSON.parse((await runCli(['device', 'status', '--state-dir', stateDir])).stdout);
    expect(status).toMatchObject({ slot: 'b', version: '1.0.1', state: 'confirmed', intact: true });
    expect(server.reports.map((r) => (r.report as { stage: string }).stage)).toEqual(['downloading', 'installed', 'confirmed']);
  });
});
