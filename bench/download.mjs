// Benchmark: a full update (check, chunked download with CRC-32 and SHA-256, journal, fsync,
// install) against `curl -o` of the same image from the same server, and against the floor plain
// Node sets for the same work, in the same run.
// Usage: npm run bench [-- <MiB> ...]   (default: 64 512)
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './serve.mjs';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const child = fileURLToPath(new URL('../test/helpers/update-child.mjs', import.meta.url));
const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
const RUNS = 3;

function makeImage(path, mib) {
  const fd = openSync(path, 'w');
  let block = createHash('sha256').update(String(mib)).digest();
  const piece = Buffer.alloc(1024 * 1024);
  for (let m = 0; m < mib; m++) {
    for (let i = 0; i < piece.length; i += 32) {
      block = createHash('sha1').update(block).digest().subarray(0, 20);
      block.copy(piece, i);
      piece.writeUInt32LE(i ^ m, i + 20);
    }
    writeSync(fd, piece);
  }
  closeSync(fd);
}

/** Bytes fetched again after a SIGKILL at `killAt`: what the killed process had received minus where the next run resumed. */
async function refetchAfterKill(server, killAt) {
  const stateDir = join(work, 'killed');
  const killedAt = join(work, 'killed-at');
  spawnSync(process.execPath, [child, server.url, stateDir, String(killAt), killedAt], { stdio: 'ignore', env: { ...process.env } });
  const received = Number(readFileSync(killedAt, 'utf8'));
  const r = spawnSync(process.execPath, [child, server.url, stateDir, '-', killedAt], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error('update after the kill failed: ' + r.stdout + r.stderr);
  await new Promise((res) => setTimeout(res, 200)); // let the server's log lines arrive
  // The run after the kill made the last image request (or none, when nothing was missing).
  const resumed = server.log().map((l) => /firmware\/\S+ bytes=(\d+)-/.exec(l)).filter(Boolean).at(-1);
  rmSync(stateDir, { recursive: true, force: true });
  if (!resumed) throw new Error('no image request seen after the kill');
  return { received, resumedAt: Number(resumed[1]) };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Seconds for `curl -o`, and for `curl -o` followed by `sync` of the file (durable, as an update must be). */
function curl(url, out) {
  const t = process.hrtime.bigint();
  const r = spawnSync('curl', ['-s', '-f', '-o', out, url]);
  if (r.status !== 0) throw new Error('curl failed: ' + r.stderr);
  const plain = Number(process.hrtime.bigint() - t) / 1e9;
  spawnSync('sync', [out]);
  return [plain, Number(process.hrtime.bigint() - t) / 1e9];
}

/**
 * Seconds for the floor plain Node sets: http.get of the same file with SHA-256, CRC-32 and a
 * positioned write of every piece, then fsync; no chunking, journal or resume. What the update
 * costs beyond this is the updater's own.
 */
function nodeFloor(url, out) {
  const script = `
    const http = require('node:http'), fs = require('node:fs'), zlib = require('node:zlib');
    const t = process.hrtime.bigint();
    const fd = fs.openSync(${JSON.stringify(out)}, 'w');
    const h = require('node:crypto').createHash('sha256');
    let at = 0, crc = 0;
    http.get(${JSON.stringify(url)}, (res) => {
      res.on('data', (d) => { h.update(d); crc = zlib.crc32(d, crc); at += fs.writeSync(fd, d, 0, d.length, at); });
      res.on('end', () => { h.digest(); fs.fsyncSync(fd); console.log(Number(process.hrtime.bigint() - t) / 1e9); });
    });`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error('node floor failed: ' + r.stderr);
  return Number(r.stdout);
}

/** One update in its own process (so its peak memory is its own), with `nodeFlags` given to node. */
function update(url, stateDir, nodeFlags = []) {
  const script = `
    const { createUpdater } = await import(${JSON.stringify(join(dist, 'index.js'))});
    const u = createUpdater({ config: { ota_domain: ${JSON.stringify(url)}, device_id: 'dev1', firmware_version: '1.0.0' },
      stateDir: ${JSON.stringify(stateDir)}, platform: { reboot: async () => {}, logger: { log: () => {} } } });
    const t = process.hrtime.bigint();
    const r = await u.checkForUpdates();
    const s = Number(process.hrtime.bigint() - t) / 1e9;
    if (r.status !== 'updated') { console.error(JSON.stringify(r)); process.exit(1); }
    console.log(JSON.stringify({ seconds: s, maxRssMiB: process.resourceUsage().maxRSS / 1024 }));
    process.exit(0);`;
  const r = spawnSync(process.execPath, [...nodeFlags, '--input-type=module', '-e', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error('update failed: ' + r.stderr);
  return JSON.parse(r.stdout);
}

const work = mkdtempSync(join(tmpdir(), 'ota-bench-'));
try {
  console.log('medians of ' + RUNS + ' runs; ratio = ota throughput / reference throughput');
  console.log('node floor = plain http.get + SHA-256 + CRC-32 + write + fsync in Node, without the updater');
  console.log('peak RSS: of the update process with node defaults / with --max-semi-space-size=1 (as examples/raspberry-pi runs it)');
  console.log('size     curl -o              curl -o + sync       node floor           ota update           ratio vs curl  ratio vs curl+sync  ratio vs floor  peak RSS         re-fetched after kill at 50%');
  for (const mib of sizes.length ? sizes : [64, 512]) {
    const img = join(work, 'img.bin');
    makeImage(img, mib);
    const releases = join(work, 'releases');
    spawnSync(process.execPath, [join(dist, 'cli.js'), 'publish', '--dir', releases, '--file', img, '--version', '2.0.0', '--device', 'dev1'], { stdio: 'ignore' });
    rmSync(img);
    const server = await startServer(releases);
    const manifest = await (await fetch(server.url + '/v1/ota/device/latest/dev1')).json();
    const curlTimes = [];
    const syncedTimes = [];
    const floorTimes = [];
    const otaTimes = [];
    let rss = 0;
    for (let i = 0; i < RUNS; i++) {
      const [plain, synced] = curl(server.url + '/' + manifest.url, join(work, 'curl.bin'));
      curlTimes.push(plain);
      syncedTimes.push(synced);
      rmSync(join(work, 'curl.bin'));
      floorTimes.push(nodeFloor(server.url + '/' + manifest.url, join(work, 'floor.bin')));
      rmSync(join(work, 'floor.bin'));
      const stateDir = join(work, 'device' + i);
      const u = update(server.url, stateDir);
      otaTimes.push(u.seconds);
      rss = Math.max(rss, u.maxRssMiB);
      rmSync(stateDir, { recursive: true, force: true });
    }
    const small = update(server.url, join(work, 'device-small'), ['--max-semi-space-size=1']).maxRssMiB;
    rmSync(join(work, 'device-small'), { recursive: true, force: true });
    const refetched = await refetchAfterKill(server, (mib * 1024 * 1024) / 2 + 1000);
    server.stop();
    rmSync(releases, { recursive: true, force: true });
    const c = median(curlTimes);
    const cs = median(syncedTimes);
    const f = median(floorTimes);
    const o = median(otaTimes);
    const cell = (t) => (t.toFixed(2) + ' s ' + (mib / t).toFixed(0) + ' MiB/s').padEnd(21);
    console.log((mib + ' MiB').padEnd(9) + cell(c) + cell(cs) + cell(f) + cell(o) + (c / o).toFixed(2).padEnd(15) + (cs / o).toFixed(2).padEnd(20) + (f / o).toFixed(2).padEnd(16) + (rss.toFixed(0) + ' / ' + small.toFixed(0) + ' MiB').padEnd(17) + (refetched.received - refetched.resumedAt) + ' bytes (killed having received ' + refetched.received + ', resumed at ' + refetched.resumedAt + '; chunk ' + manifest.chunk_size + ')');
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
