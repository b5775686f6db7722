// The whole story on one machine: a server publishing firmware 1.0.3, a simulated board at 1.0.2,
// check, download with progress, verification, slot switch, reboot, health check, confirmation.
// Run with `npm run demo` (it builds first). Uses only the `ota` command.
// `npm run demo -- --console` also serves the web console and keeps it open until Ctrl-C.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../dist/cli.cjs', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'ota-demo-'));
const withConsole = process.argv.includes('--console');
const step = (text) => console.log('\n\x1b[1m== ' + text + '\x1b[0m');

function ota(...args) {
  console.log('$ ota ' + args.join(' '));
  const r = spawnSync(process.execPath, [cli, ...args], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('ota ' + args[0] + ' failed with exit code ' + r.status);
}

function firmware(version, size) {
  // Deterministic bytes that differ per version, standing in for a firmware.bin.
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(version).digest();
  for (let i = 0; i < size; i += 32) {
    block = createHash('sha256').update(block).digest();
    block.copy(out, i);
  }
  const file = join(work, 'firmware-' + version + '.bin');
  writeFileSync(file, out);
  return file;
}

let server;
try {
  step('Build firmware 1.0.2 (running on the board) and 1.0.3 (the update)');
  const old = firmware('1.0.2', 1024 * 1024);
  const next = firmware('1.0.3', 8 * 1024 * 1024);

  step('Publish 1.0.3 for device demo-board');
  const releases = join(work, 'releases');
  ota('publish', '--dir', releases, '--file', next, '--version', '1.0.3', '--device', 'demo-board');

  step('Start the update server');
  server = spawn(process.execPath, [cli, 'serve', '--dir', releases, '--port', '0', '--quiet', ...(withConsole ? ['--console'] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
  let consoleUrl = '';
  const url = await new Promise((resolve, reject) => {
    let out = '';
    server.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (\S+)/.exec(out);
      const c = /console at (\S+)/.exec(out);
      if (c) consoleUrl = c[1];
      if (m && (!withConsole || c)) resolve(m[1]);
    });
    server.on('exit', (code) => reject(new Error('ota serve exited with ' + code)));
  });
  console.log('ota serve: listening on ' + url);

  step('Create a simulated board running 1.0.2');
  const board = join(work, 'board');
  ota('device', 'init', '--state-dir', board, '--version', '1.0.2', '--file', old);

  step('Configure it (default.cfg) with a health check for the new image');
  const cfg = join(work, 'default.cfg');
  const settings = { ota_domain: url, device_id: 'demo-board', device_token: 'demo-token', auto_update: true, health_command: 'test -s "$OTA_SLOT_PATH" && echo "health check: $OTA_VERSION is up"' };
  writeFileSync(cfg, JSON.stringify(settings, null, 2) + '\n');
  console.log(JSON.stringify(settings, null, 2));

  step('Check for updates, download, verify, switch slot, reboot, health check, confirm');
  ota('device', '--config', cfg, '--state-dir', board, '--once');

  step('Final status of the board');
  ota('device', 'status', '--state-dir', board);

  step('What the server heard from the board');
  const reports = await (await fetch(url + '/v1/ota/device/status/demo-board')).json();
  for (const r of reports) console.log('  ' + r.stage.padEnd(12) + r.version + (r.from ? ' (from ' + r.from + ')' : ''));
  console.log('\nDemo finished: the board runs 1.0.3, confirmed.');
  if (withConsole) {
    console.log('\nThe console (the board and its release are there): ' + consoleUrl + '\nPress Ctrl-C to stop.');
    await new Promise((resolve) => process.once('SIGINT', resolve));
  }
} catch (e) {
  console.error('\ndemo failed: ' + e.message);
  process.exitCode = 1;
} finally {
  server?.kill();
  rmSync(work, { recursive: true, force: true });
}
