/**
 * A release directory served by a plain static server (Debian's nginx, installed by .ci/run):
 * devices update from it without `ota serve`.
 */
import { describe, expect, it } from 'vitest';
import { configFile, device, image, onCleanup, releaseDir, runCli, sha256 } from './helpers/fixtures.js';
import { NGINX, startNginx } from './helpers/nginx.mjs';

// CI installs nginx, so there the test must run; elsewhere it is skipped when nginx is absent.
const runIt = NGINX !== undefined || process.env.CI ? it : it.skip;

describe('static hosting', () => {
  runIt('updates a device from a release directory served by nginx, with ranges', async () => {
    const fw = image(700_000, 17);
    const { dir } = await releaseDir('2.4.0', fw, { device: 'dev1' }, 65536);
    const { url, stop } = await startNginx(dir);
    onCleanup(stop);
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
