// Makes dist/ota-cli.cjs.v8cache, the V8 code cache the `ota` entry compiles its bundle with
// (src/cli/entry.ts): one up-to-date `ota device --once` against `ota serve` on 127.0.0.1, run
// with OTA_CODE_CACHE=write, so that the cache holds what such a check compiles. It is valid for
// this Node (version and V8 flags, NODE_OPTIONS included) and this build only; elsewhere `ota`
// compiles without it. A cache that cannot be made is said, and the build goes on without one.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../dist/cli.cjs', import.meta.url));
const cache = fileURLToPath(new URL('../dist/ota-cli.cjs.v8cache', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'ota-code-cache-'));

function ota(args, env = {}) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: Object.assign({}, process.env, env), timeout: 60000 });
  if (r.status !== 0) throw new Error('ota ' + args.join(' ') + ' failed: ' + r.stdout + r.stderr);
}

let server = null;
try {
  rmSync(cache, { force: true });
  writeFileSync(join(work, 'fw.bin'), 'firmware 1.0.0\n');
  ota(['publish', '--dir', join(work, 'releases'), '--file', join(work, 'fw.bin'), '--version', '1.0.0', '--device', 'cache']);
  server = spawn(process.execPath, [cli, 'serve', '--dir', join(work, 'releases'), '--port', '0', '--quiet'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    server.stdout.on('data', (b) => {
      out += b;
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    server.once('exit', (code) => reject(new Error('ota serve exited with ' + code + ': ' + out)));
    setTimeout(() => reject(new Error('ota serve did not start within 30 s')), 30000).unref();
  });
  ota(['device', 'init', '--state-dir', join(work, 'state'), '--version', '1.0.0', '--file', join(work, 'fw.bin')]);
  writeFileSync(join(work, 'default.cfg'), JSON.stringify({ ota_domain: url, device_id: 'cache', log_file: '' }));
  ota(['device', '--config', join(work, 'default.cfg'), '--state-dir', join(work, 'state'), '--once'], { OTA_CODE_CACHE: 'write' });
  if (!existsSync(cache)) throw new Error('the check wrote none');
  console.log('code cache: ' + cache);
} catch (e) {
  console.warn('no code cache (`ota` compiles its bundle without one): ' + e.message);
} finally {
  server?.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
}
