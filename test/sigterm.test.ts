/**
 * Issue 13, "SIGTERM during an update": `ota device` told to stop in the middle of a download from
 * a server that has gone slow stops at a chunk boundary, keeps the journal (the next start
 * resumes), installs nothing, and exits within about a second, in both its modes.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { faultServer } from './helpers/fault-server.js';
import { CLI, configFile, device, image, manifestFor, onCleanup, until } from './helpers/fixtures.js';

describe('SIGTERM during an update', () => {
  for (const once of [false, true]) {
    it('stops the download, keeps the journal and exits within 2 s (' + (once ? '--once' : 'long-running agent') + ')', async () => {
      const data = image(2_000_000, 7);
      // After 300 kB the server keeps the connection open and sends nothing more.
      const server = await faultServer(await manifestFor(data), data, { stallAfter: 300_000 });
      const stateDir = await device('1.0.0');
      const cfg = configFile({ ota_domain: server.url, device_id: 'dev1', auto_update: true, first_check_delay: 0, download_timeout: '10m' });
      const args = [CLI, 'device', '--config', cfg, '--state-dir', stateDir, ...(once ? ['--once'] : [])];
      const p = spawn(process.execPath, args);
      let output = '';
      p.stdout.on('data', (d) => (output += d));
      p.stderr.on('data', (d) => (output += d));
      onCleanup(() => p.exitCode === null && p.kill('SIGKILL'));
      await until('the download to stall', () => server.bytesSent >= 300_000);
      const exited = new Promise<number | null>((resolve) => p.once('exit', (code) => resolve(code)));
      const t0 = Date.now();
      p.kill('SIGTERM');
      const code = await exited;
      const took = Date.now() - t0;
      expect(took, output).toBeLessThan(2000);
      expect(code, output).toBe(once ? 1 : 0);
      expect(output).toContain('Update stopped');
      const journal = JSON.parse(readFileSync(join(stateDir, 'download.json'), 'utf8'));
      expect(journal).toMatchObject({ slot: 'b', size: data.length });
      const boot = JSON.parse(readFileSync(join(stateDir, 'boot.json'), 'utf8'));
      expect(boot.trial ?? null).toBe(null);
      expect(existsSync(join(stateDir, 'slots/a.bin'))).toBe(true);
    });
  }
});
