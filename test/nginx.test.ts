/**
 * A release directory served by a plain static server (Debian's nginx, installed by .ci/run):
 * devices update from it without `ota serve`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configFile, device, freePort, image, onCleanup, releaseDir, runCli, sha256, tempDir } from './helpers/fixtures.js';

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => spawnSync(p, ['-v']).status === 0);
// CI installs nginx, so there the test must run; elsewhere it is skipped when nginx is absent.
const runIt = NGINX !== undefined || process.env.CI ? it : it.skip;

async function startNginx(root: string): Promise<string> {
  expect(NGINX, 'nginx is not installed (.ci/run installs it)').toBeDefined();
  const dir = tempDir();
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `${process.getuid?.() === 0 ? 'user root;' : ''}
daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  server { listen 127.0.0.1:${port}; root ${root}; default_type application/octet-stream; }
}
`,
  );
  const child = spawn(NGINX!, ['-c', conf, '-p', dir], { stdio: 'inherit' });
  // TERM, not KILL: the master then stops its worker too.
  onCleanup(() => new Promise((r) => (child.once('exit', r), child.kill('SIGTERM'))));
  const url = 'http://127.0.0.1:' + port;
  for (let i = 0; i < 100; i++) {
    const up = await fetch(url + '/').then(() => true, () => false);
    if (up) return url;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('nginx did not start');
}

describe('static hosting', () => {
  runIt('updates a device from a release directory served by nginx, with ranges', async () => {
    const fw = image(700_000, 17);
    const { dir } = await releaseDir('2.4.0', fw, { device: 'dev1' }, 65536);
    const url = await startNginx(dir);
    const ranged = await fetch(url + '/firmware/' + sha256(fw) + '.bin', { headers: { Range: 'bytes=65536-' } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe('bytes 65536-699999/700000');
    await ranged.arrayBuffer();

    const stateDir = await device('2.3.9');
    const r = await runCli(['device', '--config', configFile({ ota_domain: url, device_id: 'dev1' }), '--state-dir', stateDir, '--once']);
    expect(r.stdout).toContain('updated 2.3.9 -> 2.4.0 (slot b, confirmed)');
    expect(r.code).toBe(0);
    // nginx takes no reports (404): the update goes on, the failure to report is only logged.
    expect(r.stderr).toContain('Could not report "installed" to the server: update server answered HTTP 404 to POST');
    const status = JSON.parse((await runCli(['device', 'status', '--state-dir', stateDir])).stdout);
    expect(status).toMatchObject({ slot: 'b', version: '2.4.0', sha256: sha256(fw), state: 'confirmed' });
  });
});
