/**
 * What a start evaluates (issue 20: an up-to-date `ota device --once`, run from cron or a timer,
 * should cost little more than Node's own start). An up-to-date check over plain HTTP, and
 * importing the library, load none of the Node built-ins they do not use: each one costs CPU and
 * RSS at every start (the figures are `npm run bench`'s; this test reads what was loaded, from
 * `process.moduleLoadList` at exit, and times nothing).
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CLI, configFile, device, image, releaseDir, serve, tempDir } from './helpers/fixtures.js';

/** Built-ins for HTTPS, hashing, CRC-32 and gzip, commands, the release server; tar needs zlib. */
const UNUSED = ['crypto', 'tls', 'zlib', 'child_process', 'http', 'https', 'dgram'];

/** Runs node with `args` and a preload that records the built-ins loaded by exit. */
function loadedBuiltins(args: string[]): Promise<{ builtins: string[]; output: string }> {
  const dir = tempDir();
  const out = join(dir, 'loaded.json');
  const preload = join(dir, 'record-loaded.cjs');
  writeFileSync(preload, "process.on('exit', () => require('node:fs').writeFileSync(" + JSON.stringify(out) + ', JSON.stringify(process.moduleLoadList)));\n');
  return new Promise((done, fail) => {
    execFile(process.execPath, ['-r', preload, ...args], { timeout: 60000 }, (e, stdout, stderr) => {
      if (e) return fail(new Error(stdout + stderr));
      const list = JSON.parse(readFileSync(out, 'utf8')) as string[];
      done({ builtins: list.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length)), output: stdout + stderr });
    });
  });
}

describe('a start loads what it uses', () => {
  it('an up-to-date `ota device --once` over HTTP loads no crypto, tls, zlib, child_process or http', async () => {
    const { dir } = await releaseDir('2.0.0', image(3000));
    const server = await serve(dir);
    const stateDir = await device('2.0.0');
    const config = configFile({ ota_domain: server.url, device_id: 'dev1', log_file: '' });
    const run = await loadedBuiltins([CLI, 'device', '--config', config, '--state-dir', stateDir, '--once']);
    expect(run.output).toContain('up to date: running 2.0.0');
    expect(run.builtins).toContain('net');
    expect(run.builtins.filter((m) => UNUSED.indexOf(m) >= 0)).toEqual([]);
  });

  it('importing the library (ES module and CommonJS builds) loads none of them either', async () => {
    const esm = fileURLToPath(new URL('../dist/index.js', import.meta.url));
    const cjs = fileURLToPath(new URL('../dist/index.cjs', import.meta.url));
    for (const args of [['--input-type=module', '-e', 'await import(' + JSON.stringify(esm) + ')'], ['-e', 'require(' + JSON.stringify(cjs) + ')']]) {
      const run = await loadedBuiltins(args);
      expect(run.builtins.filter((m) => UNUSED.indexOf(m) >= 0)).toEqual([]);
    }
  });
});
