// The floor of an update's peak RSS in Node on this machine: bench/floor-client.cjs (the
// irreducible work, no ota-client code) downloading an image from nginx, with Node's defaults and
// with the run-time V8 settings of the `ota` process, beside `node -e 0`. Rounds alternate the
// three; medians of VmHWM. What ota-client adds is its `npm run bench` figure minus this.
// Usage: node bench/floor.mjs [--runs N] [<MiB> ...]   (default: 5 runs, 256 1024)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeImage, sha256File } from './image.mjs';
import { startNginx } from '../test/helpers/nginx.mjs';
import { median } from './stats.mjs';

const client = fileURLToPath(new URL('floor-client.cjs', import.meta.url));
const args = process.argv.slice(2);
const runsAt = args.indexOf('--runs');
const RUNS = runsAt >= 0 ? Number(args[runsAt + 1]) : 5;
const sizes = args.filter((a, i) => /^\d+$/.test(a) && args[i - 1] !== '--runs').map(Number);
const mib = (kib) => (kib / 1024).toFixed(1) + ' MiB';

const work = mkdtempSync(join(tmpdir(), 'ota-floor-'));
let nginx = null;
try {
  console.log('node ' + process.version + '; medians of ' + RUNS + ' rounds of peak RSS (VmHWM)');
  console.log('| image | `node -e 0` | the floor, Node defaults | the floor, `ota`\'s run-time V8 settings |');
  console.log('|---|---|---|---|');
  for (const size of sizes.length ? sizes : [256, 1024]) {
    const image = join(work, 'img.bin');
    makeImage(image, size);
    const sha = sha256File(image);
    nginx = await startNginx(work);
    const r = { bare: [], defaults: [], lean: [] };
    for (let round = 0; round < RUNS; round++) {
      r.bare.push(Number(execFileSync(process.execPath, ['-e', "process.stdout.write(/VmHWM:\\s*(\\d+)/.exec(require('fs').readFileSync('/proc/self/status','utf8'))[1])"], { encoding: 'utf8' })));
      for (const k of round % 2 ? ['lean', 'defaults'] : ['defaults', 'lean']) {
        const out = JSON.parse(execFileSync(process.execPath, [client, nginx.url + '/img.bin', join(work, 'target.bin'), k], { encoding: 'utf8' }));
        if (out.sha256 !== sha) throw new Error('the floor client got a wrong image');
        r[k].push(out.hwm);
        rmSync(join(work, 'target.bin'));
      }
    }
    await nginx.stop();
    nginx = null;
    rmSync(image);
    console.log('| ' + size + ' MiB | ' + mib(median(r.bare)) + ' | ' + mib(median(r.defaults)) + ' | ' + mib(median(r.lean)) + ' |');
  }
} finally {
  if (nginx) await nginx.stop();
  rmSync(work, { recursive: true, force: true });
}
