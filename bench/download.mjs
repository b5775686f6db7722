// Benchmark: a whole update with `ota device --once` (check, chunked download with CRC-32 and
// SHA-256, journal, fsync, trial boot, confirm) beside `curl -o` and, with --peers, SWUpdate and
// Mender installing the same image from the same nginx. Contenders alternate inside each round
// (the first one rotates); medians are reported, ratios are medians of per-round ratios. Wall time
// and CPU include a `sync` of the target; CPU is user+sys of the process tree and peak RSS that of its
// largest process (GNU time). Then the small costs: an up-to-date `ota device --once`, `node -e 0`,
// an idle agent connected to MQTT, and the bytes re-fetched after a kill.
// Usage: npm run bench [-- [--peers] [--runs N] [--compare <other build's dist/cli.cjs>] <MiB> ...]
// (default: 256 1024, 5 runs); --compare adds that build of ota-client as one more contender, so
// that before and after are measured in the same rounds.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeImage, sha256File } from './image.mjs';
import { startNginx } from '../test/helpers/nginx.mjs';
import { menderContender, menderMissing } from './peers/mender.mjs';
import { SWUPDATE, swupdateContender } from './peers/swupdate.mjs';
import { which } from './peers/which.mjs';
import { startServer } from './serve.mjs';
import { median } from './stats.mjs';

const cli = fileURLToPath(new URL('../dist/cli.cjs', import.meta.url));
const child = fileURLToPath(new URL('../test/helpers/update-child.mjs', import.meta.url));
const args = process.argv.slice(2);
const peers = args.includes('--peers');
const runsAt = args.indexOf('--runs');
const RUNS = runsAt >= 0 ? Number(args[runsAt + 1]) : 5;
const compareAt = args.indexOf('--compare');
const compareCli = compareAt >= 0 ? args[compareAt + 1] : null;
const sizes = args.filter((a, i) => /^\d+$/.test(a) && args[i - 1] !== '--runs').map(Number);
const TIME = which('time') ?? '/usr/bin/time';

/**
 * Runs `argv` and then `sync` of `target` under GNU time; returns wall seconds, CPU seconds
 * (user+sys of the tree) and peak RSS in MiB (the largest process of the tree). The `sync` is
 * inside the timed tree: the writeback it does (block allocation, I/O submission) is the work a
 * contender that never fsyncs leaves to it, and is counted as CPU for every contender alike.
 */
function measured(argv, target) {
  const out = join(work, 'time.txt');
  const t = process.hrtime.bigint();
  const r = spawnSync(TIME, ['-f', '%U %S %M', '-o', out, 'sh', '-c', '"$@" && exec sync "$0"', target, ...argv], { encoding: 'utf8' });
  const wall = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.status !== 0) throw new Error(argv.join(' ') + ' failed (' + r.status + '): ' + r.stdout + r.stderr);
  const [user, sys, kib] = readFileSync(out, 'utf8').trim().split('\n').at(-1).split(' ').map(Number);
  return { wall, cpu: user + sys, rssMiB: kib / 1024 };
}

const usagePreload = fileURLToPath(new URL('usage-at-exit.cjs', import.meta.url));

/** Runs node with `args`; returns its CPU seconds (to the microsecond) and peak RSS in MiB. */
function measuredNode(args) {
  const out = join(work, 'usage.txt');
  const r = spawnSync(process.execPath, ['-r', usagePreload, ...args], { encoding: 'utf8', env: Object.assign({}, process.env, { OTA_BENCH_USAGE: out }) });
  if (r.status !== 0) throw new Error('node ' + args.join(' ') + ' failed (' + r.status + '): ' + r.stdout + r.stderr);
  const [us, kib] = readFileSync(out, 'utf8').split(' ').map(Number);
  return { cpu: us / 1e6, rssMiB: kib / 1024 };
}

/** A simulated board at `version` with its config pointing at `url`, made by the `ota` of `otaCli`. */
function device(name, version, url, extra = {}, otaCli = cli) {
  const dir = join(work, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  const config = join(dir, 'default.cfg');
  writeFileSync(config, JSON.stringify(Object.assign({ ota_domain: url, device_id: 'dev1', allow_http: true, log_file: '' }, extra)));
  const r = spawnSync(process.execPath, [otaCli, 'device', 'init', '--state-dir', join(dir, 'state'), '--version', version], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error('ota device init failed: ' + r.stderr);
  return { config, stateDir: join(dir, 'state') };
}

/** `ota device --once` of the build whose command is `otaCli`. */
function otaContender(otaCli = cli, name = 'ota-client `ota device --once`') {
  let d;
  return {
    name,
    get target() {
      return join(d.stateDir, 'slots', 'b.bin');
    },
    prepare: (url) => (d = device('ota', '1.0.0', url, {}, otaCli)),
    argv: () => [process.execPath, otaCli, 'device', '--config', d.config, '--state-dir', d.stateDir, '--once'],
  };
}

function curlContender(imagePath) {
  const target = join(work, 'curl.bin');
  return {
    name: 'curl -o (no verification)',
    target,
    prepare: () => rmSync(target, { force: true }),
    argv: (url) => ['curl', '-s', '-f', '-o', target, url + imagePath],
  };
}

/** Bytes fetched again after a SIGKILL at `killAt`: what the killed process had received minus where the next run resumed. */
async function refetchAfterKill(releases, killAt) {
  const server = await startServer(releases);
  const stateDir = join(work, 'killed');
  const killedAt = join(work, 'killed-at');
  try {
    spawnSync(process.execPath, [child, server.url, stateDir, String(killAt), killedAt], { stdio: 'ignore' });
    const received = Number(readFileSync(killedAt, 'utf8'));
    const r = spawnSync(process.execPath, [child, server.url, stateDir, '-', killedAt], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error('update after the kill failed: ' + r.stdout + r.stderr);
    await new Promise((res) => setTimeout(res, 200)); // let the server's log lines arrive
    const resumed = server.log().map((l) => /firmware\/\S+ bytes=(\d+)-/.exec(l)).filter(Boolean).at(-1);
    if (!resumed) throw new Error('no image request seen after the kill');
    return received - Number(resumed[1]);
  } finally {
    server.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

/**
 * RSS of an `ota device` agent (no --once) 3 s and 15 s after it connected to MQTT and made its
 * first check: V8's memory reducer shrinks the heap of an idle process ~8 s after its last work.
 */
async function idleAgentRss(url) {
  const mosquitto = which('mosquitto');
  if (!mosquitto) return 'mosquitto is not installed';
  const port = 20000 + Math.floor(Math.random() * 20000);
  const conf = join(work, 'mosquitto.conf');
  writeFileSync(conf, 'listener ' + port + ' 127.0.0.1\nallow_anonymous true\n');
  const broker = spawn(mosquitto, ['-c', conf], { stdio: 'ignore' });
  const d = device('idle', '2.0.0', url, { auto_update: true, first_check_delay: 1, mqtt_server: '127.0.0.1', mqtt_port: port, mqtt_user: 'bench' });
  const agent = spawn(process.execPath, [cli, 'device', '--config', d.config, '--state-dir', d.stateDir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  agent.stderr.on('data', (b) => (log += b));
  try {
    for (let i = 0; i < 200 && !(log.includes('MQTT connected') && log.includes('No new updates')); i++) await new Promise((r) => setTimeout(r, 50));
    if (!log.includes('MQTT connected')) return 'the agent did not connect: ' + log.slice(-300);
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/' + agent.pid + '/status', 'utf8'))[1]) / 1024;
    await new Promise((r) => setTimeout(r, 3000));
    const early = rss();
    await new Promise((r) => setTimeout(r, 12000));
    return [early, rss()];
  } finally {
    agent.kill('SIGTERM');
    broker.kill('SIGTERM');
  }
}

const work = mkdtempSync(join(tmpdir(), 'ota-bench-'));
let nginx = null;
try {
  console.log('machine: ' + cpus().length + ' × ' + cpus()[0].model + ', node ' + process.version + ', load average at start ' + loadavg().map((l) => l.toFixed(2)).join(' '));
  console.log('medians of ' + RUNS + ' rounds, contenders alternating; wall and CPU include `sync` of the target; CPU = user+sys of the process tree; peak RSS of its largest process');
  const releases = join(work, 'releases');
  let sha = '';
  for (const mib of sizes.length ? sizes : [256, 1024]) {
    const img = join(work, 'img.bin');
    makeImage(img, mib);
    sha = sha256File(img);
    rmSync(releases, { recursive: true, force: true });
    spawnSync(process.execPath, [cli, 'publish', '--dir', releases, '--file', img, '--version', '2.0.0', '--device', 'dev1'], { stdio: 'ignore' });
    const contenders = [curlContender('/firmware/' + sha + '.bin'), otaContender()];
    if (compareCli) contenders.push(otaContender(compareCli, 'ota-client, ' + compareCli));
    const skipped = [];
    if (peers) {
      if (SWUPDATE) contenders.push(swupdateContender(work, releases, img, sha));
      else skipped.push('SWUpdate: swupdate is not installed (apt-get install -y swupdate)');
      const why = menderMissing();
      if (why === null) contenders.push(menderContender(work, releases, img));
      else skipped.push('Mender: ' + why);
    }
    rmSync(img);
    nginx = await startNginx(releases);
    const results = contenders.map(() => []);
    for (let round = 0; round < RUNS; round++) {
      for (let k = 0; k < contenders.length; k++) {
        const i = (round + k) % contenders.length;
        const c = contenders[i];
        c.prepare(nginx.url);
        results[i].push(measured(c.argv(nginx.url), c.target));
        if (statSync(c.target).size !== mib * 1024 * 1024 || (round === 0 && sha256File(c.target) !== sha)) throw new Error(c.name + ' left a wrong image');
        rmSync(c.target, { force: true });
      }
    }
    await nginx.stop();
    nginx = null;
    const ota = results[1];
    console.log('\n' + mib + ' MiB, load average now ' + loadavg()[0].toFixed(2));
    console.log('| contender | wall | CPU per GiB | peak RSS | its wall ÷ ota-client’s (lowest–highest round) |');
    console.log('|---|---|---|---|---|');
    contenders.forEach((c, i) => {
      const rs = results[i];
      const ratios = rs.map((r, k) => r.wall / ota[k].wall);
      const spread = ' (' + Math.min(...ratios).toFixed(2) + '–' + Math.max(...ratios).toFixed(2) + ')';
      console.log('| ' + c.name + ' | ' + median(rs.map((r) => r.wall)).toFixed(2) + ' s | ' + median(rs.map((r) => r.cpu / (mib / 1024))).toFixed(2) + ' s | ' + median(rs.map((r) => r.rssMiB)).toFixed(0) + ' MiB | ' + (i === 1 ? '' : median(ratios).toFixed(2) + '×' + spread) + ' |');
    });
    for (const s of skipped) console.log('(not run: ' + s + ')');
    console.log('ota-client re-fetched ' + (await refetchAfterKill(releases, (mib * 1024 * 1024) / 2 + 1000)) + ' bytes after a SIGKILL at 50%');
  }

  // The small costs, on a tiny release the device already runs.
  const small = join(work, 'small.bin');
  writeFileSync(small, 'x'.repeat(4096));
  rmSync(releases, { recursive: true, force: true });
  spawnSync(process.execPath, [cli, 'publish', '--dir', releases, '--file', small, '--version', '2.0.0', '--device', 'dev1'], { stdio: 'ignore' });
  nginx = await startNginx(releases);
  const upToDate = [];
  const nodeBare = [];
  for (let i = 0; i < Math.max(RUNS, 21); i++) {
    const d = device('current', '2.0.0', nginx.url);
    upToDate.push(measuredNode([cli, 'device', '--config', d.config, '--state-dir', d.stateDir, '--once']));
    nodeBare.push(measuredNode(['-e', '0']));
  }
  const line = (name, rs) => console.log('| ' + name + ' | ' + (median(rs.map((r) => r.cpu)) * 1000).toFixed(0) + ' ms | ' + median(rs.map((r) => r.rssMiB)).toFixed(1) + ' MiB |');
  console.log('\n| nothing to download | CPU | peak RSS |');
  console.log('|---|---|---|');
  line('`ota device --once`, up to date', upToDate);
  line('`node -e 0`', nodeBare);
  line('difference (median of the rounds\' differences)', upToDate.map((r, i) => ({ cpu: r.cpu - nodeBare[i].cpu, rssMiB: r.rssMiB - nodeBare[i].rssMiB })));
  const idle = await idleAgentRss(nginx.url);
  console.log('idle agent (`ota device`, MQTT connected, after its first check): ' + (Array.isArray(idle) ? idle[0].toFixed(1) + ' MiB RSS 3 s after it, ' + idle[1].toFixed(1) + ' MiB 15 s after' : 'not measured: ' + idle));
} finally {
  if (nginx) await nginx.stop();
  rmSync(work, { recursive: true, force: true });
}
