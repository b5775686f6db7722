#!/usr/bin/env node
/**
 * The `ota` command's entry (dist/cli.cjs). It runs the command's one-file bundle (ota-cli.cjs,
 * from main.ts) compiled with V8's code cache when a cache made for this very build and this Node
 * lies beside it: compiling the bundle, and then the functions an up-to-date check calls, was
 * ~10 ms of the ~30 ms such a check cost beyond `node -e 0` (`npm run bench`). Node 20 has no
 * compile cache of its own (module.enableCompileCache came with Node 22).
 *
 * The cache is made by one representative run with `OTA_CODE_CACHE=write` in the environment
 * (`npm run build` does it with an up-to-date `ota device --once`); an image build can do the
 * same with its own Node and NODE_OPTIONS. `ota` never writes it otherwise. It is used only when
 * its header names the bundle's build id (a new one at every build: V8 itself compares only the
 * source's length) and this Node's version, and holds the CRC-32 of V8's data: V8 checks its own
 * checksum only with --verify-snapshot-checksum (node:v8, to set it, costs ~6 ms to load), and a
 * damaged cache would crash the agent. V8 then refuses a cache whose V8 version or flags differ;
 * any problem means a plain compile. NODE_DEBUG=ota-code-cache says what happened.
 */
// First, before the bundle is compiled: V8 takes its flags into the code cache's check, so the
// cache is made and used under the same ones.
import './lean-heap.js';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { debuglog } from 'node:util';
import { Script } from 'node:vm';
import * as zlib from 'node:zlib';

const bundle = join(dirname(fileURLToPath(import.meta.url)), 'ota-cli.cjs');
const cacheFile = bundle + '.v8cache';
const debug = debuglog('ota-code-cache');

/** The build id on the bundle's first line (tsup.config.ts writes it), or '' without one. */
function buildId(source: string): string {
  const first = source.slice(0, source.indexOf('\n'));
  return first.startsWith('// ota build ') ? first.slice('// ota build '.length) : '';
}

/** zlib's CRC-32 of `data` in hex; null before Node 20.15, which has none (no cache is used then). */
function checksum(data: Uint8Array): string | null {
  const crc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;
  return crc32 ? crc32(data).toString(16).padStart(8, '0') : null;
}

/** The header of a cache for build `id` on this Node: what it is made for, and its data's CRC-32. */
function header(id: string, crc: string): Buffer {
  return Buffer.from('ota code cache ' + id + ' ' + process.version + ' ' + process.arch + ' ' + crc + '\n');
}

/** The V8 data of the cache file when its header matches `id`, this Node and the data. */
function readCache(id: string): Buffer | undefined {
  let file: Buffer;
  try {
    file = readFileSync(cacheFile);
  } catch {
    debug('no cache at %s', cacheFile);
    return undefined;
  }
  const end = file.indexOf(10) + 1;
  const data = file.subarray(end);
  const crc = end > 0 ? checksum(data) : null;
  if (id === '' || crc === null || !file.subarray(0, end).equals(header(id, crc))) {
    debug('%s was made for another build or Node, or is damaged; compiling without it', cacheFile);
    return undefined;
  }
  return data;
}

/** The bundle compiled with `cachedData`. */
function compile(source: string, cachedData: Buffer | undefined): Script {
  const script = new Script(Module.wrap(source), { filename: bundle, cachedData });
  if (cachedData) debug(script.cachedDataRejected ? 'V8 refused the cache; compiled without it' : 'compiled from the cache');
  return script;
}

/** Runs the compiled bundle as Node would `require` it. */
function run(script: Script): void {
  const m = new Module(bundle);
  m.filename = bundle;
  const wrapper = script.runInThisContext() as (exports: object, require: NodeJS.Require, module: Module, filename: string, dirname: string) => void;
  wrapper.call(m.exports, m.exports, createRequire(bundle), m, bundle, dirname(bundle));
}

/** Writes the code cache of what this run compiled, for the next runs (OTA_CODE_CACHE=write). */
function writeCache(script: Script, id: string): void {
  const data = script.createCachedData();
  const crc = checksum(data);
  if (crc === null) return;
  const temporary = cacheFile + '.' + process.pid;
  writeFileSync(temporary, Buffer.concat([header(id, crc), data]));
  renameSync(temporary, cacheFile); // a concurrent reader sees the old file or the whole new one
}

/**
 * The compiled bundle and its build id; null when the bundle is to be required as it is. Its
 * source as read and the cache are no longer referenced once this returns (V8 keeps the wrapped
 * copy it compiled): referenced while the command ran, they outlived V8's scavenges and stayed in
 * the heap until a full GC, which an update does not reach (0.4 MiB of its peak RSS).
 */
function compiled(): { script: Script; id: string } | null {
  const source = readFileSync(bundle, 'utf8');
  // import() in a vm.Script needs Node's experimental loader, which warns on stderr at every
  // start: the bundle loads packages with require (platform/node/lazy-modules.ts), and one that
  // does not is required as it is (test/startup.test.ts keeps them out).
  if (source.includes('import(')) return null;
  const id = buildId(source);
  return { script: compile(source, process.env.OTA_CODE_CACHE === 'write' ? undefined : readCache(id)), id };
}

function start(): void {
  const c = compiled();
  if (c === null) {
    createRequire(bundle)(bundle);
    return;
  }
  run(c.script);
  if (process.env.OTA_CODE_CACHE === 'write') process.once('exit', () => writeCache(c.script, c.id));
}

start();
