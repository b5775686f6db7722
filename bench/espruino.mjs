// Benchmark: the Espruino module updating a JavaScript application from `ota serve`, in Espruino's
// Linux interpreter, built outside this repository (docs/espruino.md).
//
// ESPRUINO_BOARDS=esp32:/path,wifi:/path npm run bench:espruino [-- <KB>...]
//   32-bit builds with a board's fixed variable count (ESP32 16 383, Espruino WiFi 8 190). For each
//   board and application size (4, 16, 64 KB): the variables loading the module from Storage
//   costs, then creating the updater (once per boot, `start()` does), the update's time, and what
//   the update really needs, found by a hold-back search: the largest ballast of variables held
//   during the update with which it still succeeds (sampling process.memory() misses short peaks).
//   "Load" is what a booted board holds (ota-client and ota-client-core); the check's file
//   (ota-client-run) is loaded during the update, so its cost is part of what the update needs.
// ESPRUINO_BIN=/path npm run bench:espruino [-- <KB> <chunk bytes>]
//   the 64-bit build (its pool grows as needed): one update, process.memory() sampled every 50 ms.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import { startServer } from './serve.mjs';

const BOARDS = (process.env.ESPRUINO_BOARDS ?? '').split(',').filter(Boolean).map((pair) => {
  const i = pair.indexOf(':');
  return { name: pair.slice(0, i), bin: pair.slice(i + 1) };
});
const BIN = process.env.ESPRUINO_BIN;
if (BOARDS.length === 0 && !BIN) {
  console.error('Set ESPRUINO_BOARDS=esp32:/path,wifi:/path (32-bit board builds) or ESPRUINO_BIN (the 64-bit build): see docs/espruino.md');
  process.exit(2);
}
const dist = fileURLToPath(new URL('../dist/', import.meta.url));
/** The module's files (the module, a check's code, the code both use), by their Storage names. */
const FILES = readdirSync(join(dist, 'espruino')).filter((f) => f.endsWith('.js') && !f.endsWith('.debug.js')).map((f) => f.slice(0, -3));
/** Ballast precision of the hold-back search, in variables. */
const STEP = 50;
const work = mkdtempSync(join(tmpdir(), 'ota-espruino-bench-'));

/** A JavaScript application of `kb` kilobytes: code that runs, padded with string data. */
function application(kb) {
  let app = 'var APP_VERSION = "2.0.0";\nvar DATA = [];\n';
  for (let i = 0; app.length < kb * 1024 - 64; i++) app += 'DATA.push("' + ('row ' + i + ' ').repeat(6) + '");\n';
  return app.slice(0, kb * 1024 - 40) + '\nconsole.log("APP " + APP_VERSION);\n';
}

/** Publishes `app` (chunks of `chunk` bytes) into a fresh release directory. */
function publish(app, chunk) {
  const dir = mkdtempSync(join(work, 'release-'));
  writeFileSync(join(dir, 'app.js'), app);
  execFileSync(process.execPath, [join(dist, 'cli.cjs'), 'publish', '--dir', join(dir, 'releases'), '--file', join(dir, 'app.js'), '--version', '2.0.0', '--device', 'esp1', '--chunk-size', String(chunk)], { stdio: 'ignore' });
  return join(dir, 'releases');
}

/**
 * One interpreter run of `script` in `dir` (its espruino.flash persists). stdin stays open (at EOF
 * the 32-bit builds' console reads garbage), so scripts end with quit().
 */
function run(bin, dir, script) {
  writeFileSync(join(dir, 'run.js'), script);
  return new Promise((resolve) => {
    const child = spawn(bin, ['run.js'], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill(), 120_000);
    if (process.env.BENCH_DEBUG) child.on("exit", () => console.log(out.slice(-2000)));
    child.on('exit', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

function result(out) {
  const line = out.split('\n').find((l) => l.indexOf('RESULT ') >= 0);
  return line ? JSON.parse(line.slice(line.indexOf('RESULT ') + 7)) : null;
}

/** A device directory with the module in Storage and default.cfg pointing at `url`. */
async function device(bin, url) {
  const dir = mkdtempSync(join(work, 'device-'));
  for (const f of FILES) copyFileSync(join(dist, 'espruino', f + '.js'), join(dir, f + '.js'));
  await run(bin, dir, `${FILES.map((f) => 'require("Storage").write("' + f + '", require("fs").readFileSync("' + f + '.js"));').join('\n')}
require("Storage").writeJSON("default.cfg", { ota_domain: "${url}", device_id: "esp1", firmware_version: "1.0.0" });
quit();`);
  return dir;
}

/**
 * One update on a copy of `prepared`'s flash with `ballast` variables held throughout. It counts
 * only when the slot holds the application and the boot state names its SHA-256.
 */
async function update(bin, prepared, ballast, app) {
  const dir = mkdtempSync(join(work, 'trial-'));
  copyFileSync(join(prepared, 'espruino.flash'), join(dir, 'espruino.flash'));
  const sha = createHash('sha256').update(app).digest('hex');
  const out = await run(bin, dir, `var m0 = process.memory().usage;
var ota = require("ota-client");
var loaded = process.memory().usage;
var u = ota.defaultUpdater({ reboot: function () { return Promise.resolve(); } });
var created = process.memory();
var B = []; for (var n = ${ballast}; n > 0; n--) B.push(0);
var t = Date.now();
u.checkForUpdates().then(function (r) {
  var ms = Date.now() - t;
  B = null;
  var st = null, seq = -1;
  for (var c = 0; c < 2; c++) {
    // The boot state's newest copy (src/platform/espruino/storage-state.ts: "<sequence> <CRC-32>" then the JSON).
    var raw = require("Storage").read("ota-boot.json." + c);
    if (raw && parseInt(raw, 10) > seq) { seq = parseInt(raw, 10); st = JSON.parse(raw.slice(raw.indexOf("\\n") + 1)); }
  }
  var ok = r && r.status === "updated" && st && st.slots.b && st.slots.b.sha256 === "${sha}" && E.CRC32(require("Storage").read("ota.b")) === ${crc32(app)};
  console.log("RESULT " + JSON.stringify({ ok: !!ok, status: r && r.status, ms: ms, load: loaded - m0, updater: created.usage - loaded, free: created.free, total: created.total }));
  quit();
});`);
  rmSync(dir, { recursive: true, force: true });
  return result(out);
}

/** The hold-back search: the largest ballast (to STEP) with which the update succeeds. */
async function holdBack(bin, prepared, app) {
  const first = await update(bin, prepared, 0, app);
  if (!first || !first.ok) return { first, need: null };
  let lo = 0;
  let hi = first.free;
  while (hi - lo > STEP) {
    const mid = (lo + hi) >> 1;
    const r = await update(bin, prepared, mid, app);
    if (r && r.ok) lo = mid;
    else hi = mid;
  }
  return { first, need: first.free - lo };
}

let server = null;
try {
  for (const f of FILES) {
    const size = statSync(join(dist, 'espruino', f + '.js')).size;
    console.log(f + ' ' + size + ' bytes (' + (size / 1024).toFixed(1) + ' KB)');
  }
  if (BOARDS.length > 0) {
    console.log('\n| board (variables) | load from Storage | create the updater | application | update needs | update time |');
    console.log('|---|---|---|---|---|---|');
    for (const kb of process.argv.length > 2 ? process.argv.slice(2).map(Number) : [4, 16, 64]) {
      const app = Buffer.from(application(kb));
      server = await startServer(publish(app, 4096));
      for (const board of BOARDS) {
        const prepared = await device(board.bin, server.url);
        const { first, need } = await holdBack(board.bin, prepared, app);
        const fits = need === null ? 'does not fit (' + (first ? first.status : 'no result') + ')' : need + ' variables';
        console.log('| ' + board.name + ' (' + (first ? first.total : '?') + ') | ' + (first ? first.load + ' | ' + first.updater : '? | ?') + ' | ' + kb + ' KB | ' + fits + ' | ' + (first && first.ok ? (first.ms / 1000).toFixed(1) + ' s' : '-') + ' |');
      }
      server.stop();
      server = null;
    }
    console.log('\n"update needs": free variables once the updater exists, minus the largest ballast (to ' + STEP + ') held during a successful update.');
  }
  if (BIN) {
    const kb = Number(process.argv[2]) || 64;
    const chunk = Number(process.argv[3]) || 4096;
    const app = Buffer.from(application(kb));
    server = await startServer(publish(app, chunk));
    const dir = await device(BIN, server.url);
    const out = await run(BIN, dir, `var before = process.memory();
var peak = before.usage;
var sampler = setInterval(function () { var u = process.memory().usage; if (u > peak) peak = u; }, 50);
var u = require("ota-client").defaultUpdater({ reboot: function () { return Promise.resolve(); } });
var t = Date.now();
u.checkForUpdates().then(function (r) {
  clearInterval(sampler);
  var after = process.memory();
  console.log("RESULT " + JSON.stringify({ status: r.status, message: r.message, ms: Date.now() - t, total: after.total, before: before.usage, peak: peak, after: after.usage, blocksize: after.blocksize }));
  quit();
});`);
    const r = result(out);
    if (!r || r.status !== 'updated') throw new Error('update did not complete:\n' + out);
    console.log('\n64-bit build: application ' + app.length + ' bytes in chunks of ' + chunk + '; update ' + (r.ms / 1000).toFixed(1) + ' s');
    console.log('process.memory(): variables in use before ' + r.before + ', peak sampled ' + r.peak + ', after ' + r.after + ' (' + r.blocksize + ' bytes each; this build grew its pool to ' + r.total + ')');
  }
} finally {
  server?.stop();
  rmSync(work, { recursive: true, force: true });
}
