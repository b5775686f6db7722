// Benchmark: bytes moved, time, CPU and peak memory of an update as the full image, gzip-compressed
// and as a delta (xdelta3 -S none), on real data no one here wrote:
//   (a) two consecutive patch releases of an npm package, their published tarballs' contents as a bundle
//       (fetched from the registry with `npm pack` at run time, never committed);
//   (b) this machine's node binary as an image, with 4 KB changed in the middle.
// Usage: npm run bench:delta [-- <package> <old version> <new version>]   (default: axios 1.8.3 1.8.4)
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './serve.mjs';
import { median } from './stats.mjs';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const cli = join(dist, 'cli.cjs');
const [pkg = 'axios', oldVersion = '1.8.3', newVersion = '1.8.4'] = process.argv.slice(2);
const RUNS = 5;

function ota(...args) {
  return execFileSync(process.execPath, [cli, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** `npm pack <pkg>@<version>` unpacked: the directory its published tarball holds. */
function npmPackage(work, version) {
  const dir = join(work, 'npm-' + version);
  mkdirSync(dir, { recursive: true });
  const tgz = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir, pkg + '@' + version], { encoding: 'utf8' }).trim().split('\n').pop();
  execFileSync('tar', ['-xzf', join(dir, tgz), '-C', dir]);
  return join(dir, 'package');
}

/** One update in its own process: seconds, CPU seconds, peak RSS. */
function update(url, stateDir) {
  const script = `
    const { createUpdater } = await import(${JSON.stringify(join(dist, 'index.js'))});
    const u = createUpdater({ config: { ota_domain: ${JSON.stringify(url)}, device_id: 'dev1' },
      stateDir: ${JSON.stringify(stateDir)}, platform: { reboot: async () => {}, logger: { log: () => {} } } });
    const t = process.hrtime.bigint();
    const r = await u.checkForUpdates();
    const s = Number(process.hrtime.bigint() - t) / 1e9;
    if (r.status !== 'updated') { console.error(JSON.stringify(r)); process.exit(1); }
    const cpu = process.cpuUsage();
    // VmHWM, not getrusage's maxRSS: Linux keeps the latter across exec, so a child reports the
    // bench's own RSS at the fork when that is larger (the bench holds the node binary in memory).
    const hwm = /VmHWM:\\s*(\\d+)/.exec((await import('node:fs')).readFileSync('/proc/self/status', 'utf8'));
    console.log(JSON.stringify({ seconds: s, cpu: (cpu.user + cpu.system) / 1e6, rssMiB: (hwm ? Number(hwm[1]) : process.resourceUsage().maxRSS) / 1024 }));
    process.exit(0);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error('update failed: ' + r.stderr);
  return JSON.parse(r.stdout);
}

/** Bytes the server sent for firmware files, from its request log and the files' sizes. */
function bytesMoved(releases, lines) {
  let total = 0;
  for (const line of lines) {
    const m = /GET \/(firmware\/\S+)(?: bytes=(\d+)-)? -> 20[06]/.exec(line);
    if (m) total += statSync(join(releases, m[1])).size - Number(m[2] ?? 0);
  }
  return total;
}

/**
 * One case: `init` makes a device running the old release; `publish(dir, extra)` publishes old
 * then new into `dir`. Prints one row per way of moving the new release. The ways take turns run
 * by run: the machine's load drifts (fsync stalls of hundreds of ms), and each way meets it alike.
 */
async function benchCase(work, name, init, publish) {
  const ways = [
    ['full', []],
    ['gzip', ['--compress', 'gzip']],
    ['delta', ['--delta-from', '1.0.0']],
  ];
  const setups = [];
  for (const [way, extra] of ways) {
    const releases = join(work, 'releases-' + way);
    const t = process.hrtime.bigint();
    publish(releases, extra);
    const publishSeconds = Number(process.hrtime.bigint() - t) / 1e9;
    const manifest = JSON.parse(readFileSync(join(releases, 'v1/ota/device/latest/dev1'), 'utf8'));
    if (way === 'gzip' && !manifest.gzip) {
      console.log(name.padEnd(34) + way.padEnd(7) + 'not published: gzip does not make it smaller');
      continue;
    }
    setups.push({ way, releases, manifest, publishSeconds, server: await startServer(releases), runs: [], moved: 0 });
  }
  for (let i = 0; i < RUNS; i++) {
    for (const s of setups) {
      const stateDir = join(work, 'device');
      init(stateDir);
      const before = s.server.log().length;
      s.runs.push(update(s.server.url, stateDir));
      await new Promise((r) => setTimeout(r, 100)); // the server's log lines
      s.moved = bytesMoved(s.releases, s.server.log().slice(before));
      rmSync(stateDir, { recursive: true, force: true });
    }
  }
  const full = setups[0].runs;
  for (const s of setups) {
    s.server.stop();
    rmSync(s.releases, { recursive: true, force: true });
    const row = [
      name.padEnd(34) + s.way.padEnd(7),
      (s.manifest.size + ' B').padEnd(12),
      (s.moved + ' B').padEnd(12),
      ((100 * (1 - s.moved / s.manifest.size)).toFixed(2) + ' %').padEnd(9),
      (median(s.runs.map((r) => r.seconds)).toFixed(3) + ' s').padEnd(9),
      median(s.runs.map((r, i) => full[i].seconds / r.seconds)).toFixed(2).padEnd(7),
      (median(s.runs.map((r) => r.cpu)).toFixed(2) + ' s').padEnd(8),
      (Math.max(...s.runs.map((r) => r.rssMiB)).toFixed(0) + ' MiB').padEnd(9),
      s.publishSeconds.toFixed(2) + ' s',
    ];
    console.log(row.join(''));
  }
}

const work = mkdtempSync(join(tmpdir(), 'ota-bench-delta-'));
try {
  console.log('medians of ' + RUNS + ' updates on loopback, each in its own process, the ways taking turns; saved = bytes not moved compared with the image');
  console.log('speed = median of full update time / this update time in the same turn (same image); cpu = user+system of the update process; peak RSS = its VmHWM');
  console.log('case                              way    image       moved       saved    time     speed  cpu     peak RSS publish');

  // (a) An npm package's consecutive patch releases, as bundles.
  const oldDir = npmPackage(work, oldVersion);
  const newDir = npmPackage(work, newVersion);
  await benchCase(
    work,
    pkg + ' ' + oldVersion + ' -> ' + newVersion + ' (bundle)',
    (stateDir) => ota('device', 'init', '--state-dir', stateDir, '--version', '1.0.0', '--bundle', oldDir),
    (dir, extra) => {
      ota('publish', '--dir', dir, '--bundle', oldDir, '--version', '1.0.0', '--device', 'dev1');
      ota('publish', '--dir', dir, '--bundle', newDir, '--version', '1.0.1', '--device', 'dev1', ...extra);
    },
  );

  // (b) The node binary as an image, 4 KB changed in the middle.
  const oldImage = join(work, 'node-old.bin');
  const newImage = join(work, 'node-new.bin');
  copyFileSync(process.execPath, oldImage);
  const changed = readFileSync(oldImage);
  const mid = changed.length >> 1;
  for (let i = 0; i < 4096; i++) changed[mid + i] = (changed[mid + i] * 31 + i) & 0xff;
  writeFileSync(newImage, changed);
  await benchCase(
    work,
    'node binary, 4 KB changed (image)',
    (stateDir) => ota('device', 'init', '--state-dir', stateDir, '--version', '1.0.0', '--file', oldImage),
    (dir, extra) => {
      ota('publish', '--dir', dir, '--file', oldImage, '--version', '1.0.0', '--device', 'dev1');
      ota('publish', '--dir', dir, '--file', newImage, '--version', '1.0.1', '--device', 'dev1', ...extra);
    },
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
