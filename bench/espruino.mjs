// Benchmark: the Espruino module updating a 64 KB application from `ota serve`, in Espruino's
// Linux interpreter ($ESPRUINO_BIN, built outside this repository: see docs/espruino.md).
// Prints the module size, the update's duration, and process.memory() sampled every 50 ms.
// Usage: ESPRUINO_BIN=/path/to/espruino npm run bench:espruino [-- <KB> <chunk bytes>]
// (default: 64 KB in 4096-byte chunks; the chunk buffer is the largest allocation on the board)
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './serve.mjs';

const BIN = process.env.ESPRUINO_BIN;
if (!BIN) {
  console.error('ESPRUINO_BIN is not set: build Espruino\'s Linux interpreter (docs/espruino.md) and point it there');
  process.exit(2);
}
const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const kb = Number(process.argv[2]) || 64;
const chunk = Number(process.argv[3]) || 4096;
const work = mkdtempSync(join(tmpdir(), 'ota-espruino-bench-'));

// A JavaScript application of `kb` kilobytes: code that runs, padded with string data.
let app = 'var APP_VERSION = "2.0.0";\nvar DATA = [];\n';
for (let i = 0; app.length < kb * 1024 - 64; i++) app += 'DATA.push("' + ('row ' + i + ' ').repeat(6) + '");\n';
app = app.slice(0, kb * 1024 - 40) + '\nconsole.log("APP " + APP_VERSION);\n';
writeFileSync(join(work, 'app.js'), app);

let server = null;
try {
  execFileSync(process.execPath, [join(dist, 'cli.cjs'), 'publish', '--dir', join(work, 'releases'), '--file', join(work, 'app.js'), '--version', '2.0.0', '--device', 'esp1', '--chunk-size', String(chunk)], { stdio: 'ignore' });
  server = await startServer(join(work, 'releases'));
  const url = server.url;
  const device = join(work, 'device');
  mkdirSync(device);
  copyFileSync(join(dist, 'espruino/ota-client.js'), join(device, 'ota-client.js'));
  writeFileSync(
    join(device, 'run.js'),
    `require("Storage").write("ota-client", require("fs").readFileSync("ota-client.js"));
require("Storage").writeJSON("default.cfg", { ota_domain: "${url}", device_id: "esp1", firmware_version: "1.0.0" });
var before = process.memory();
var peak = before.usage;
var sampler = setInterval(function () { var u = process.memory().usage; if (u > peak) peak = u; }, 50);
var u = require("ota-client").defaultUpdater({ reboot: function () { return Promise.resolve(); } });
var t = Date.now();
u.checkForUpdates().then(function (r) {
  clearInterval(sampler);
  var after = process.memory();
  console.log("RESULT " + JSON.stringify({ status: r.status, message: r.message, ms: Date.now() - t, total: after.total, before: before.usage, peak: peak, after: after.usage, blocksize: after.blocksize }));
});`,
  );
  const out = execFileSync(BIN, ['run.js'], { cwd: device, encoding: 'utf8', timeout: 300000 });
  const line = out.split('\n').find((l) => l.indexOf('RESULT ') >= 0);
  if (!line) throw new Error('no result from the interpreter:\n' + out);
  const r = JSON.parse(line.slice(line.indexOf('RESULT ') + 7));
  if (r.status !== 'updated') throw new Error('update did not complete: ' + line);
  const size = statSync(join(dist, 'espruino/ota-client.js')).size;
  console.log('module ' + size + ' bytes; application ' + app.length + ' bytes; update ' + (r.ms / 1000).toFixed(1) + ' s');
  console.log('process.memory(): variables in use before ' + r.before + ', peak sampled ' + r.peak + ', after ' + r.after + ' (' + r.blocksize + ' bytes each; this Linux build grew its pool to ' + r.total + ', an ESP32 has a fixed ~16 000)');
} finally {
  server?.stop();
  rmSync(work, { recursive: true, force: true });
}
