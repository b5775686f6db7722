/**
 * Out of memory at each stage of an update, in Espruino's interpreter built with a board's fixed
 * variable count (`ESPRUINO_BOARDS=esp32:/path,wifi:/path`, see docs/espruino.md). On a board an
 * allocation that fails throws nothing: the interpreter stops the code running and what awaited it
 * goes on with `undefined`. Each case takes all free memory (a ballast) just before one stage's
 * own allocation, by wrapping the board function that stage calls, and expects: the update fails
 * with OUT_OF_MEMORY (never `updated`), every copy of every state file stays whole, the old
 * application starts at the next boot, and the next check installs the update.
 * Skipped without a board interpreter in $ESPRUINO_BOARDS.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { installModule } from './helpers/espruino-module.js';
import { releaseDir, serve, tempDir } from './helpers/fixtures.js';

/** `name:path` pairs of $ESPRUINO_BOARDS. */
function boards(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (process.env.ESPRUINO_BOARDS ?? '').split(',')) {
    const i = pair.indexOf(':');
    if (i > 0) out[pair.slice(0, i)] = pair.slice(i + 1);
  }
  return out;
}
const BOARDS = boards();
/** The smallest layout given: the Espruino WiFi's when there. */
const BIN = BOARDS.wifi ?? BOARDS.esp32 ?? Object.values(BOARDS)[0];

/**
 * One boot in `dir` (its espruino.flash persists). stdin stays open: at EOF these builds' console
 * reads garbage. The script ends with quit(), or the interpreter waits for console input.
 */
function boot(dir: string, script: string, bin = BIN): Promise<string> {
  writeFileSync(join(dir, 'run.js'), script);
  return new Promise((resolve) => {
    const child = spawn(bin!, ['run.js'], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill(), 60_000);
    child.on('exit', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

/** An application of several 512-byte chunks that prints its version. */
function app(version: string): Buffer {
  return Buffer.from('console.log("APP ' + version + '");\nvar PADDING = "' + 'data '.repeat(500) + '";\n');
}

/**
 * Wraps board functions so that the stage named by STAGE takes all free memory first: `exhaust()`
 * fills a ballast until an allocation fails (which stops that code), and frees it at the next timer
 * tick, as when a large allocation of the update itself fails.
 */
const HOOKS = `
var B = null;
function exhaust() {
  setTimeout(function () { B = null; }, 0);
  B = [];
  for (;;) B.push(0);
}
function wrap(o, name, when) {
  var f = o[name];
  o[name] = function () {
    if (when.apply(null, arguments)) { STAGE = ""; exhaust(); }
    return f.apply(o, arguments);
  };
}
var S = require("Storage");
var crcs = 0;
wrap(S, "read", function (n) { return STAGE === "journal" && n.indexOf("ota-download.json") === 0; });
wrap(E, "CRC32", function () { return STAGE === "chunk" && ++crcs === 3; });
wrap(S, "write", function (n, d, off) { return (STAGE === "slot" && n === "ota.b" && off > 0) || (STAGE === "state" && n.indexOf("ota-boot.json") === 0 && d.indexOf('"2.0.0"') > 0); });
wrap(require("crypto"), "SHA256", function () { return STAGE === "hash"; });
// The network stages run out in a callback's own allocation, freed as soon as it is cut short: a
// ballast held on while the board's socket layer goes on makes the debug interpreter itself fail
// its assertions (jsvAppendStringVar, src/jsvar.c), which no code of ours can reach.
function overflow() {
  var b = [];
  for (;;) b.push(0);
}
var H = require("http"), request = H.request;
H.request = function (o, cb) {
  if (STAGE === "exchange" && o.path.indexOf("/firmware/") === 0) { STAGE = ""; overflow(); }
  // The answer to the first status report comes while memory is out: its callback is cut short.
  if (STAGE !== "report" || o.method !== "POST") return request.call(H, o, cb);
  return request.call(H, o, function (res) { STAGE = ""; overflow(); cb(res); });
};
var stringify = JSON.stringify;
JSON.stringify = function (v, r, s) {
  if (STAGE === "stringify" && v && v.trial === "b" && v.slots && v.slots.b && v.slots.b.version === "2.0.0") { STAGE = ""; exhaust(); }
  return stringify(v, r, s);
};
`;

const check = (url: string, stage: string) => `
var STAGE = "${stage}";
${HOOKS}
require("Storage").writeJSON("default.cfg", { ota_domain: "${url}", device_id: "esp1", firmware_version: "1.0.0" });
var u = require("ota-client").defaultUpdater({ reboot: function () { return Promise.resolve(); } });
u.checkForUpdates().then(function (r) {
  console.log("RESULT " + (r ? r.status + " " + (r.error ? r.error.code + " " + r.error.message : r.version) : r));
  setTimeout(quit, 10);
});
setTimeout(function () { console.log("RESULT timeout"); quit(); }, 30000);`;

/**
 * Checks every copy of every state document in Storage (\`<sequence> <CRC-32>\` then the JSON text,
 * src/platform/espruino/storage-state.ts): a torn one prints TORN. Then reads the state through the
 * module.
 */
const files = `
var S = require("Storage");
S.list().forEach(function (n) {
  if (n.indexOf("ota-") !== 0 || (n.slice(-2) !== ".0" && n.slice(-2) !== ".1")) return;
  var raw = S.read(n), eol = raw.indexOf("\\n"), sp = raw.indexOf(" "), text = raw.slice(eol + 1), ok = false;
  try { ok = sp > 0 && eol > sp && raw.slice(sp + 1, eol) === String(E.CRC32(E.toUint8Array(text))) && JSON.parse(text) !== undefined; } catch (e) {}
  console.log("COPY " + n + " " + (ok ? "whole" : "TORN"));
});
require("ota-client").defaultUpdater().status().then(
  function (s) { console.log("STATE " + s.state + " " + s.version); quit(); },
  function (e) { console.log("STATE torn " + e.message); quit(); });`;

describe.skipIf(!BIN)('Espruino out of memory, on a board layout ($ESPRUINO_BOARDS)', () => {
  const stages = ['report', 'exchange', 'journal', 'chunk', 'slot', 'hash', 'stringify', 'state'];

  it.each(stages)('running out at stage "%s" fails the update with OUT_OF_MEMORY, keeps the state whole, boots the old application, and the retry installs', { timeout: 120_000 }, async (stage) => {
    const dir = tempDir();
    const release = await releaseDir('2.0.0', app('2.0.0'), { device: 'esp1' }, 512);
    const server = await serve(release.dir);
    // The device: the module and application 1.0.0 in Storage (slot a).
    await boot(dir, `${installModule(dir)}
require("Storage").write("ota.a", 'console.log("APP 1.0.0");');
quit();`);

    const first = await boot(dir, check(server.url, stage));
    const result = first.split('RESULT ')[1]?.split('\n')[0] ?? first.slice(-800);
    expect(result, first.slice(-1500)).toMatch(/^failed OUT_OF_MEMORY /);
    expect(first).toContain('OUT OF MEMORY'); // the interpreter's own report: the stage really ran out
    const after = await boot(dir, files);
    expect(after).toContain('COPY ota-boot.json.');
    expect(after, after).not.toContain('TORN');
    expect(after).toContain('STATE confirmed 1.0.0');

    const rebooted = await boot(dir, 'setTimeout(quit, 500);');
    expect(rebooted).toContain('APP 1.0.0');

    const retry = await boot(dir, check(server.url, ''));
    expect(retry).toContain('RESULT updated 2.0.0');
    expect(await boot(dir, 'setTimeout(quit, 500);')).toContain('APP 2.0.0');
  });
});

describe.skipIf(!BOARDS.esp32)('Espruino module load, on the ESP32 layout ($ESPRUINO_BOARDS)', () => {
  it('loading the module from Storage costs at most 1 000 variables, and a check\'s code leaves memory when the check ends', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    const release = await releaseDir('2.0.0', app('2.0.0'), { device: 'esp1' }, 512);
    const server = await serve(release.dir);
    await boot(dir, `${installModule(dir)}
require("Storage").write("ota.a", 'console.log("APP 1.0.0");');
require("Storage").writeJSON("default.cfg", { ota_domain: "${server.url}", device_id: "esp1", firmware_version: "1.0.0" });
quit();`, BOARDS.esp32);
    const out = await boot(dir, `var m0 = process.memory().usage;
var ota = require("ota-client");
console.log("LOAD " + (process.memory().usage - m0));
ota.defaultUpdater({ reboot: function () { return Promise.resolve(); } }).checkForUpdates().then(function (r) {
  console.log("RESULT " + r.status + " CACHED " + Modules.getCached().join(","));
  setTimeout(quit, 10);
});`, BOARDS.esp32);
    const load = Number(out.split('LOAD ')[1]?.split('\n')[0]);
    // Issue 17's goal: a booted board holds ota-client and ota-client-core (1 836 for the one file before).
    expect(load, out.slice(-1500)).toBeLessThanOrEqual(1000);
    const cached = out.split('RESULT ')[1]?.split('\n')[0] ?? out.slice(-1500);
    expect(cached).toMatch(/^updated CACHED /);
    expect(cached).toContain('ota-client-core');
    expect(cached).not.toContain('ota-client-run');
  });
});
