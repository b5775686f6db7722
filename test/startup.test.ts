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
import { publish } from '../src/server/release-store.js';
import { CLI, configFile, device, image, releaseDir, serve, tempDir } from './helpers/fixtures.js';

/**
 * Built-ins for HTTPS, hashing, CRC-32 and gzip, commands, the release server (tar needs zlib), and
 * fs/promises (0.8 MiB with the readline and watcher modules it loads; the agent uses node:fs).
 */
const UNUSED = ['crypto', 'tls', 'zlib', 'child_process', 'http', 'https', 'dgram', 'fs/promises'];

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
  it('an up-to-date `ota device --once` over HTTP loads no crypto, tls, child_process, http or fs/promises', async () => {
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

/**
 * Runs `ota` with `args` under a preload that records, by exit, the V8 flags it set at run time
 * (node:v8's setFlagsFromString) and the Date methods it called that make V8 set up its time zone
 * through ICU, which pages in ~0.6 MiB of the node binary's ICU data.
 */
function otaRecorded(args: string[]): Promise<{ flags: string[]; zoned: string[]; output: string }> {
  const dir = tempDir();
  const out = join(dir, 'recorded.json');
  const preload = join(dir, 'record.cjs');
  writeFileSync(
    preload,
    [
      "const v8 = require('node:v8'); const flags = []; const zoned = [];",
      'const set = v8.setFlagsFromString; v8.setFlagsFromString = (f) => { flags.push(f); set(f); };',
      "for (const m of ['toISOString', 'toString', 'toUTCString', 'toJSON', 'toLocaleString', 'toLocaleDateString', 'toLocaleTimeString', 'getHours', 'getDate', 'getDay', 'getMonth', 'getFullYear', 'getMinutes', 'getTimezoneOffset']) {",
      '  const f = Date.prototype[m]; Date.prototype[m] = function (...a) { zoned.push(m); return f.apply(this, a); };',
      '}',
      "process.on('exit', () => require('node:fs').writeFileSync(" + JSON.stringify(out) + ', JSON.stringify({ flags, zoned })));',
    ].join('\n'),
  );
  return new Promise((done, fail) => {
    execFile(process.execPath, ['-r', preload, CLI, ...args], { timeout: 60000 }, (e, stdout, stderr) => {
      if (e) return fail(new Error(stdout + stderr));
      done(Object.assign(JSON.parse(readFileSync(out, 'utf8')) as { flags: string[]; zoned: string[] }, { output: stdout + stderr }));
    });
  });
}

describe('an update in the `ota` process (issue 20: peak RSS)', () => {
  /** 1 MiB of nibbles (gzip and xdelta3 find structure in it), and the same with 4 KB changed. */
  const V1 = Buffer.from(image(1024 * 1024, 1).map((b) => b & 0x0f));
  const V2 = Buffer.concat([V1.subarray(0, 500000), image(4000, 2), V1.subarray(504000)]);

  /** `ota device --once` from V1 (1.0.0) to V2 (1.0.1), published with `deltaFrom`. */
  async function update(deltaFrom?: string[]) {
    const dir = join(tempDir(), 'releases');
    const files = tempDir();
    writeFileSync(join(files, 'v1'), V1);
    writeFileSync(join(files, 'v2'), V2);
    await publish({ dir, file: join(files, 'v1'), version: '1.0.0', audience: { device: 'dev1' } });
    await publish({ dir, file: join(files, 'v2'), version: '1.0.1', audience: { device: 'dev1' }, deltaFrom });
    const server = await serve(dir);
    const stateDir = await device('1.0.0', V1);
    const config = configFile({ ota_domain: server.url, device_id: 'dev1', log_file: '' });
    const run = await otaRecorded(['device', '--config', config, '--state-dir', stateDir, '--once']);
    expect(readFileSync(join(stateDir, 'slots', 'b.bin')).equals(V2)).toBe(true);
    return run;
  }

  it('downloads a whole image without Sparkplug and TurboFan (src/cli/jit.ts), and sets up no time zone', async () => {
    const run = await update();
    expect(run.output).toContain('Downloading 1048576 bytes');
    expect(run.flags).toContain('--no-turbofan');
    expect(run.flags).toContain('--no-sparkplug');
    expect(run.flags).not.toContain('--turbofan');
    expect(run.flags).not.toContain('--sparkplug');
    // The check record, the status reports and the log lines write UTC times from UTC fields.
    expect(run.zoned).toEqual([]);
  });

  it("turns them on for a delta's decode, JavaScript that works byte by byte", async () => {
    const run = await update(['1.0.0']);
    expect(run.output).toContain('delta');
    expect(run.flags.slice(-2)).toEqual(['--sparkplug', '--turbofan']);
  });
});
