/**
 * What a start evaluates (issue 20: an up-to-date `ota device --once`, run from cron or a timer,
 * should cost little more than Node's own start). An up-to-date check over plain HTTP, and
 * importing the library, load none of the Node built-ins they do not use: each one costs CPU and
 * RSS at every start (the figures are `npm run bench`'s; this test reads what was loaded, from
 * `process.moduleLoadList` at exit, and times nothing).
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
  it('an up-to-date `ota device --once` over HTTP loads no crypto, tls, child_process or http', async () => {
    const { dir } = await releaseDir('2.0.0', image(3000));
    const server = await serve(dir);
    const stateDir = await device('2.0.0');
    const config = configFile({ ota_domain: server.url, device_id: 'dev1', log_file: '' });
    const run = await loadedBuiltins([CLI, 'device', '--config', config, '--state-dir', stateDir, '--once']);
    expect(run.output).toContain('up to date: running 2.0.0');
    expect(run.builtins).toContain('net');
    // zlib is the entry's, for its code cache's CRC-32 (src/cli/entry.ts).
    expect(run.builtins.filter((m) => UNUSED.indexOf(m) >= 0 && m !== 'zlib')).toEqual([]);
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

describe('the `ota` entry and its code cache (src/cli/entry.ts)', () => {
  const DIST = fileURLToPath(new URL('../dist/', import.meta.url));

  it('finds no import() in the bundle: the vm.Script it runs in could not resolve one', () => {
    expect(readFileSync(join(DIST, 'ota-cli.cjs'), 'utf8')).not.toContain('import(');
  });

  it('the cache `npm run build` made is taken by the command it was made for', async () => {
    const run = await new Promise<string>((done, fail) =>
      execFile(process.execPath, [join(DIST, 'cli.cjs'), '--version'], { env: Object.assign({}, process.env, { NODE_DEBUG: 'ota-code-cache' }) }, (e, stdout, stderr) => (e ? fail(new Error(stdout + stderr)) : done(stderr))),
    );
    expect(run).toContain('compiled from the cache');
  });

  it('uses a cache made for this build and this Node, and compiles without one made for another build, a truncated or a damaged one', async () => {
    const root = tempDir();
    mkdirSync(join(root, 'dist'));
    for (const f of ['cli.cjs', 'ota-cli.cjs']) copyFileSync(join(DIST, f), join(root, 'dist', f));
    writeFileSync(join(root, 'package.json'), JSON.stringify({ version: '9.8.7' }));
    const cli = join(root, 'dist', 'cli.cjs');
    const cache = join(root, 'dist', 'ota-cli.cjs.v8cache');
    const version = (env: Record<string, string>) =>
      new Promise<{ stdout: string; stderr: string }>((done, fail) =>
        execFile(process.execPath, [cli, '--version'], { env: Object.assign({}, process.env, env) }, (e, stdout, stderr) => (e ? fail(new Error(stdout + stderr)) : done({ stdout, stderr }))),
      );
    const said = async () => {
      const run = await version({ NODE_DEBUG: 'ota-code-cache' });
      expect(run.stdout).toBe('9.8.7\n');
      return run.stderr;
    };

    expect(await said()).toContain('no cache at ' + cache);
    expect((await version({ OTA_CODE_CACHE: 'write' })).stdout).toBe('9.8.7\n');
    const good = readFileSync(cache);
    expect(good.subarray(0, 15).toString()).toBe('ota code cache ');
    expect(await said()).toContain('compiled from the cache');

    // Bit rot inside V8's data, which V8 would run (and crash on): the header's CRC-32 catches it.
    const damaged = Buffer.from(good);
    for (let i = 200; i < damaged.length; i += 4099) damaged[i] = damaged[i]! ^ 0x10;
    writeFileSync(cache, damaged);
    expect(await said()).toContain('is damaged; compiling without it');
    writeFileSync(cache, good.subarray(0, good.length >> 1));
    expect(await said()).toContain('is damaged; compiling without it');
    writeFileSync(cache, '');
    expect(await said()).toContain('is damaged; compiling without it');

    // Another build of the same length: V8 alone would take the cache (it compares lengths only).
    writeFileSync(cache, good);
    const bundle = join(root, 'dist', 'ota-cli.cjs');
    const source = readFileSync(bundle, 'utf8');
    const id = /^\/\/ ota build (\S+)\n/.exec(source)![1]!;
    writeFileSync(bundle, source.replace(id, id.slice(0, -1) + (id.endsWith('0') ? '1' : '0')));
    expect(await said()).toContain('was made for another build or Node');
    // V8's own check, for what the header cannot tell (another V8 flag): a refusal, and a plain compile.
    writeFileSync(bundle, source);
    expect((await version({ NODE_DEBUG: 'ota-code-cache', NODE_OPTIONS: '--max-semi-space-size=2' })).stderr).toContain('V8 refused the cache');
  });
});
