/**
 * The `ota` command as an operator meets it: --help on every command (one line per flag),
 * --version, the documented errors with their exit codes and in the project's words (no errno,
 * OpenSSL or Node option text), the README's exit-code table, and the operator commands
 * (check, install, mark-good, mark-bad, rollback, status) on a simulated board.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, configFile, device, freePort, image, listenLocal, onCleanup, releaseDir, runCli, serve, sha256, startCli, tempDir, testUpdater, until } from './helpers/fixtures.js';

/** Text that must never reach a user: errno codes, OpenSSL's codes, Node's option checks, stack traces. */
const RAW = [
  /\bE(NOENT|ACCES|PERM|ROFS|NOTDIR|ISDIR|EXIST|ADDRINUSE|ADDRNOTAVAIL|CONNREFUSED|CONNRESET|NOTFOUND|AI_AGAIN)\b/,
  /error:[0-9A-F]{8}/,
  /routines::/,
  /options\.\w+ should/,
  /\bERR_[A-Z_]+/,
  /\n\s+at .+:\d+:\d+/,
  /Unknown option '/,
];

function expectWords(text: string): void {
  for (const raw of RAW) expect(text).not.toMatch(raw);
}

/** Every command with its flags, as the README documents them. */
const COMMANDS: [string[], string[]][] = [
  [['publish'], ['dir', 'file', 'bundle', 'version', 'device', 'group', 'chunk-size', 'override-rejected', 'key', 'expires', 'downgrade', 'rollout', 'compress', 'delta-from', 'json']],
  [['serve'], ['dir', 'port', 'host', 'quiet', 'tls-cert', 'tls-key', 'device-tokens', 'console', 'admin-token', 'mqtt', 'key', 'max-upload']],
  [['keygen'], ['out']],
  [['config', 'init'], ['out', 'device-id', 'force']],
  [['device', 'init'], ['state-dir', 'version', 'file', 'bundle', 'force']],
  [['device', 'status'], ['state-dir', 'config', 'json']],
  [['device', 'check'], ['config', 'state-dir', 'json', 'verbose']],
  [['device', 'install'], ['config', 'state-dir', 'version', 'json', 'verbose']],
  [['device', 'mark-good'], ['config', 'state-dir', 'reason', 'json']],
  [['device', 'mark-bad'], ['config', 'state-dir', 'reason', 'json']],
  [['device', 'rollback'], ['config', 'state-dir', 'reason', 'json']],
  [['device'], ['config', 'state-dir', 'once', 'json', 'verbose']],
  [['run'], ['config', 'state-dir', 'verbose']],
  [['consent'], ['state-dir']],
];

/** The exit-code table of `ota --help`: code -> "NAME meaning". */
function helpTable(help: string): Map<number, string> {
  const table = new Map<number, string>();
  for (const line of help.slice(help.indexOf('Exit codes')).split('\n').slice(1)) {
    const m = /^\s+(\d+)\s+([A-Z_]+)\s+(.+)$/.exec(line);
    if (m) table.set(Number(m[1]), m[2] + ' ' + m[3]);
  }
  return table;
}

describe('ota --help, --version and usage', () => {
  it('answers --help on every command with exit 0 and one line per flag', async () => {
    const answers = await Promise.all(COMMANDS.map(([words]) => runCli([...words, '--help'])));
    for (const [i, [words, flags]] of COMMANDS.entries()) {
      const r = answers[i]!;
      expect(r.code, words.join(' ')).toBe(0);
      expect(r.stdout).toContain('Usage: ota ' + words.join(' '));
      for (const flag of [...flags, 'help']) {
        const lines = r.stdout.split('\n').filter((l) => l.startsWith('  --' + flag + ' ') || l === '  --' + flag);
        expect(lines, words.join(' ') + ' --' + flag).toHaveLength(1);
        expect(lines[0]!.trim().length).toBeGreaterThan(('--' + flag).length + 5); // a description, not the bare flag
      }
    }
    // The README's synopsis (the sh block of "The `ota` command") names every flag --help lists.
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## The `ota` command'));
    const synopsis = section.slice(section.indexOf('```sh'), section.indexOf('```', section.indexOf('```sh') + 5));
    for (const [i, [words]] of COMMANDS.entries()) {
      for (const flag of answers[i]!.stdout.match(/^ {2}--[a-z-]+/gm) ?? []) {
        if (flag.trim() !== '--help') expect(synopsis, 'README synopsis of ota ' + words.join(' ') + ' ' + flag.trim()).toMatch(new RegExp(flag.trim() + '\\b'));
      }
    }
  });

  it('prints the version, the commands and the exit codes', async () => {
    const version = await runCli(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toBe((JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version);
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    // Each command name stands in its column, apart from its summary (a name as long as the column ran into it).
    for (const [words] of COMMANDS) expect(help.stdout).toMatch(new RegExp('^  ota ' + words.join(' ') + '  +[A-Z]', 'm'));
    expect(helpTable(help.stdout).get(0)).toMatch(/^OK done/);
  });

  it('keeps the README exit-code table identical to the one every command uses', async () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const rows = new Map<number, string>();
    for (const m of readme.matchAll(/^\| (\d+) \| `(\w+)` \| (.+) \|$/gm)) rows.set(Number(m[1]), m[2] + ' ' + m[3]);
    expect(rows.size).toBe(10);
    expect(rows).toEqual(helpTable((await runCli(['--help'])).stdout));
  });
});

describe('ota: documented errors, exit codes and words', () => {
  it('says what was wrong and what to do, with the documented exit code', async () => {
    const dir = tempDir();
    const fw = join(dir, 'fw.bin');
    writeFileSync(fw, image(3000));
    await runCli(['keygen', '--out', join(dir, 'keys')]);
    const stateDir = await device('1.0.0');
    const cases: [string[], number, string][] = [
      [['frobnicate'], 2, 'unknown command "frobnicate"'],
      [['publish', '--dir', dir, '--file', fw, '--version', '1.0.0', '--device', 'd', '--colour'], 2, 'unknown option --colour for `ota publish`'],
      [['publish', '--dir', dir, '--file'], 2, '--file needs a value'],
      [['publish', '--dir', dir, '--version', '1.0.0', '--device', 'd'], 2, 'give exactly one of --file <image> or --bundle <directory>'],
      [['device', 'frobnicate'], 2, 'unknown command `ota device frobnicate`'],
      [['serve', '--dir', dir, '--port', '70000'], 2, '--port must be a whole number from 0 to 65535'],
      [['publish', '--dir', dir, '--file', join(dir, 'nothere.bin'), '--version', '1.0.0', '--device', 'd'], 3, 'nothere.bin does not exist'],
      [['publish', '--dir', dir, '--file', fw, '--version', '1.0.0', '--device', 'd', '--key', join(dir, 'keys', 'ota-public.pem')], 3, 'is not a PEM private key (sign with ota-private.pem'],
      [['serve', '--dir', join(dir, 'nonexistent')], 3, 'nonexistent does not exist'],
      [['device', '--config', join(dir, 'none.cfg'), '--once'], 3, 'none.cfg does not exist (`ota config init` writes one)'],
      [['device', '--config', configFile({ ota_domain: 'http://127.0.0.1:9', device_id: 42 }), '--once'], 3, 'key "device_id" is 42; expected a string'],
      [['device', 'status', '--state-dir', join(dir, 'nodevice')], 6, 'holds no device (create one with `ota device init`'],
      [['device', '--config', configFile({ ota_domain: 'http://127.0.0.1:1', device_id: 'd' }), '--state-dir', stateDir, '--once'], 1, 'connection refused (is the server running'],
      [['device', 'init', '--state-dir', join(fw, 'below-a-file'), '--version', '1.0.0'], 6, 'has a part that is not a directory'],
      [['keygen', '--out', join(dir, 'keys')], 1, 'exists; keys are never overwritten'],
    ];
    const answers = await Promise.all(cases.map(([args]) => runCli(args)));
    for (const [i, [args, code, says]] of cases.entries()) {
      const r = answers[i]!;
      const out = r.stdout + r.stderr;
      expect(out, args.join(' ')).toContain(says);
      expect(r.code, args.join(' ') + '\n' + out).toBe(code);
      expectWords(out);
    }
  });

  it('device init that fails leaves no directory it made (the state lock made it first)', async () => {
    const dir = tempDir();
    const missing = join(dir, 'boards', 'new');
    const cases: [string[], number][] = [
      [['device', 'init', '--state-dir', missing, '--version', ''], 2],
      [['device', 'init', '--state-dir', missing, '--version', '1.0.0', '--bundle', join(dir, 'no-app')], 3],
    ];
    for (const [args, code] of cases) {
      const r = await runCli(args);
      expect(r.code, r.stderr).toBe(code);
      expect(readdirSync(dir), args.join(' ')).toEqual([]);
    }
    // A directory that was there stays, with nothing added.
    mkdirSync(missing, { recursive: true });
    expect((await runCli(cases[0]![0])).code).toBe(2);
    expect(readdirSync(missing)).toEqual([]);
  });

  it('publish counts its chunks in words: "1 chunk", "2 chunks"', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'fw.bin'), image(1000));
    const publish = (version: string, ...extra: string[]) => runCli(['publish', '--dir', join(dir, 'releases'), '--file', join(dir, 'fw.bin'), '--version', version, '--device', 'd', ...extra]);
    expect((await publish('1.0.0')).stdout).toContain(', 1 chunk of 65536');
    expect((await publish('1.0.1', '--chunk-size', '600')).stdout).toContain(', 2 chunks of 600');
  });

  it('names the token on HTTP 401, and keeps the error and its code in device status', async () => {
    const url = await listenLocal(createServer((_req, res) => res.writeHead(401).end()));
    const stateDir = await device('1.0.0');
    const r = await runCli(['device', '--config', configFile({ ota_domain: url, device_id: 'dev1', device_token: 'wrong' }), '--state-dir', stateDir, '--once']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('answered HTTP 401');
    expect(r.stderr).toContain('check "device_token"');
    const status = JSON.parse((await runCli(['device', 'status', '--state-dir', stateDir])).stdout);
    expect(status).toMatchObject({ last_result: 'failed', last_error_code: 'HTTP_STATUS', agent: null, download: null });
    expect(status.last_error).toContain('HTTP 401');
    expect(Date.parse(status.last_check)).toBeGreaterThan(Date.now() - 60_000);
  });
});

describe('ota device: the agent and the operator commands', () => {
  it('keeps running with nothing scheduled until SIGTERM, and status names its pid', async () => {
    const { dir } = await releaseDir('1.0.0', image(1000));
    const server = await serve(dir);
    const stateDir = await device('1.0.0');
    const cfg = configFile({ ota_domain: server.url, device_id: 'dev1', auto_update: false });
    const child = spawn(process.execPath, [CLI, 'device', '--config', cfg, '--state-dir', stateDir], { stdio: 'ignore' });
    onCleanup(() => child.kill('SIGKILL'));
    let exited: number | null = null;
    child.on('exit', (code) => (exited = code));
    await until('the agent to record itself', () => existsSync(join(stateDir, 'agent.pid')));
    await new Promise((r) => setTimeout(r, 1500));
    expect(exited).toBe(null);
    expect(JSON.parse((await runCli(['device', 'status', '--state-dir', stateDir])).stdout).agent).toBe(child.pid);
    child.kill('SIGTERM');
    await until('the agent to exit', () => exited !== null);
    expect(exited).toBe(0);
    expect(JSON.parse((await runCli(['device', 'status', '--state-dir', stateDir])).stdout).agent).toBe(null);
  });

  it('device check says what would be installed, writes nothing, and exits 10, 0 or 4', async () => {
    const fw = image(20_000, 4);
    const { dir } = await releaseDir('1.1.0', fw);
    const server = await serve(dir);
    const stateDir = await device('1.0.0');
    const files = () => ['boot.json', 'slots/b.bin', 'download.json', 'check.json'].map((f) => (existsSync(join(stateDir, f)) ? readFileSync(join(stateDir, f), 'utf8') : null));
    const before = files();
    const newer = await runCli(['device', 'check', '--config', configFile({ ota_domain: server.url, device_id: 'dev1' }), '--state-dir', stateDir, '--json']);
    expect(newer.code).toBe(10);
    expect(JSON.parse(newer.stdout)).toEqual({ status: 'update-available', version: '1.0.0', latest: '1.1.0', size: 20_000, sha256: sha256(fw), hold: null });
    expect(files()).toEqual(before);
    expect(server.reports).toEqual([]);

    const current = await runCli(['device', 'check', '--config', configFile({ ota_domain: server.url, device_id: 'dev1' }), '--state-dir', await device('1.1.0')]);
    expect(current.code).toBe(0);
    expect(current.stdout).toContain('up to date: running 1.1.0 (latest on the server: 1.1.0)');

    const typo = await runCli(['device', 'check', '--config', configFile({ ota_domain: server.url, device_id: 'dev-1' }), '--state-dir', stateDir]);
    expect(typo.code).toBe(4);
    expect(typo.stderr).toContain('at ' + server.url + '/v1/ota/device/latest/dev-1 (HTTP 404): check "device_id" and "ota_domain"');
  });

  it('device install takes a local image through the same checks, slot and trial as a download', async () => {
    const fw = image(50_000, 8);
    const dir = tempDir();
    const file = join(dir, 'app-1.2.0.bin');
    writeFileSync(file, fw);
    const stateDir = await device('1.0.0');
    const cfg = configFile({ ota_domain: 'https://updates.invalid', device_id: 'dev1' });
    const missing = await runCli(['device', 'install', '--config', cfg, '--state-dir', stateDir, file]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('is an image, not a manifest: give its --version');

    const r = await runCli(['device', 'install', '--config', cfg, '--state-dir', stateDir, '--version', '1.2.0', '--json', file]);
    expect(r.stderr).toContain('Image verified: SHA-256 ' + sha256(fw));
    expect(r.stderr).toContain('[INFO] - Downloaded 100% (50000 of 50000 bytes');
    expect(r.stderr).toContain('Update successful! 1.2.0 installed in slot b');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'updated', version: '1.2.0', from: '1.0.0', slot: 'b', state: 'confirmed' });
    expect(JSON.parse((await runCli(['device', 'status', '--state-dir', stateDir])).stdout)).toMatchObject({ slot: 'b', version: '1.2.0', state: 'confirmed', intact: true });
  });

  it('device install refuses an unsigned image when public_keys is set, and installs a signed manifest', async () => {
    const dir = tempDir();
    await runCli(['keygen', '--out', dir]);
    const fw = image(30_000, 5);
    writeFileSync(join(dir, 'fw.bin'), fw);
    const stateDir = await device('1.0.0');
    const cfg = configFile({ ota_domain: 'https://updates.invalid', device_id: 'dev1', public_keys: [join(dir, 'ota-public.pem')] });
    const bare = await runCli(['device', 'install', '--config', cfg, '--state-dir', stateDir, '--version', '1.1.0', join(dir, 'fw.bin')]);
    expect(bare.code).toBe(1);
    expect(bare.stderr).toContain('update failed (SIGNATURE_MISSING)');
    expect(JSON.parse((await runCli(['device', 'status', '--state-dir', stateDir])).stdout)).toMatchObject({ slot: 'a', version: '1.0.0' });

    const pub = await runCli(['publish', '--dir', join(dir, 'releases'), '--file', join(dir, 'fw.bin'), '--version', '1.1.0', '--device', 'dev1', '--key', join(dir, 'ota-private.pem')]);
    expect(pub.code).toBe(0);
    const signed = await runCli(['device', 'install', '--config', cfg, '--state-dir', stateDir, join(dir, 'releases/v1/ota/device/latest/dev1')]);
    expect(signed.stdout).toContain('updated 1.0.0 -> 1.1.0 (slot b, confirmed)');
    expect(signed.code).toBe(0);
  });

  it('device install URL takes a manifest or an image from `ota serve`; a wrong hash or a bad URL leaves the running slot as it was', async () => {
    const fw = image(40_000, 9);
    const { dir, manifest } = await releaseDir('1.1.0', fw);
    // The manifest as published, announcing another SHA-256: its chunks pass, the whole image does not.
    writeFileSync(join(dir, 'v1/ota/device/latest/tampered'), JSON.stringify(Object.assign({}, manifest, { sha256: '0'.repeat(64) })));
    const url = (await startCli(['serve', '--dir', dir, '--port', '0', '--quiet'])).replace('ota serve: listening on ', '');
    const cfg = configFile({ ota_domain: 'https://updates.invalid', device_id: 'dev1' });
    const install = (stateDir: string, ...args: string[]) => runCli(['device', 'install', '--config', cfg, '--state-dir', stateDir, ...args]);
    const status = async (stateDir: string) => JSON.parse((await runCli(['device', 'status', '--state-dir', stateDir])).stdout);

    // The manifest at its protocol path: its relative `url` is under the server root, as for the agent.
    const viaManifest = await device('1.0.0');
    const m = await install(viaManifest, url + '/v1/ota/device/latest/dev1');
    expect(m.stdout, m.stderr).toContain('updated 1.0.0 -> 1.1.0 (slot b, confirmed)');
    expect(m.code).toBe(0);
    expect(await status(viaManifest)).toMatchObject({ slot: 'b', version: '1.1.0', sha256: sha256(fw), intact: true });

    const viaImage = await device('1.0.0');
    const i = await install(viaImage, '--version', '1.2.0', url + '/' + manifest.url);
    expect(i.stdout, i.stderr).toContain('updated 1.0.0 -> 1.2.0 (slot b, confirmed)');
    expect(i.code).toBe(0);

    const untouched = await device('1.0.0');
    const running = await status(untouched);
    const cases: [string[], number, string][] = [
      [[url + '/v1/ota/device/latest/tampered'], 1, 'update failed (SHA256_MISMATCH): downloaded image has SHA-256 ' + sha256(fw) + ' but the release announced ' + '0'.repeat(64)],
      [[url + '/v1/ota/device/latest/nobody'], 4, url + '/v1/ota/device/latest/nobody answered HTTP 404: nothing there'],
      [['--version', '1.2.0', url + '/firmware/none.bin'], 4, 'answered HTTP 404: nothing there'],
      [['--version', '1.2.0', 'http://127.0.0.1:' + (await freePort()) + '/fw.bin'], 1, 'connection refused (is the server running, and are the host and port in the URL given right?)'],
    ];
    for (const [args, code, says] of cases) {
      const r = await install(untouched, ...args);
      expect(r.stdout + r.stderr, args.join(' ')).toContain(says);
      expect(r.code, args.join(' ')).toBe(code);
      expectWords(r.stdout + r.stderr);
      expect(await status(untouched)).toMatchObject({ slot: 'a', version: '1.0.0', state: 'confirmed', sha256: running.sha256, intact: true, pending: null });
    }
  });

  it('device install URL reads at most 64 KiB of an image a server sends whole (no ranges), then installs it', async () => {
    // A generated 64 MiB image (each 64 KiB block filled with its number), sent whole whatever the Range header says.
    const BLOCK = 64 * 1024;
    const BLOCKS = 1024;
    const block = (i: number) => Buffer.alloc(BLOCK, i % 251);
    const gets: (string | undefined)[] = [];
    /** Per GET: whether the whole image went out before the connection closed. */
    const whole: boolean[] = [];
    // A server that ignores Range, as RFC 9110 §14.2 allows ("A server MAY ignore the Range header field").
    const server = createServer((req, res) => {
      res.on('error', () => undefined);
      res.writeHead(200, { 'Content-Length': String(BLOCK * BLOCKS) });
      if (req.method === 'HEAD') return void res.end(); // the downloader's size probe
      gets.push(req.headers.range);
      const n = whole.push(false) - 1;
      res.on('finish', () => (whole[n] = true));
      let i = 0;
      const more = () => {
        while (i < BLOCKS && !res.destroyed) {
          if (!res.write(block(i++))) return void res.once('drain', more);
        }
        res.end();
      };
      more();
    });
    const url = await listenLocal(server);
    const hash = createHash('sha256');
    for (let i = 0; i < BLOCKS; i++) hash.update(block(i));
    const stateDir = await device('1.0.0');
    const cfg = configFile({ ota_domain: 'https://updates.invalid', device_id: 'dev1' });
    const r = await runCli(['device', 'install', '--config', cfg, '--state-dir', stateDir, '--version', '1.1.0', url + '/fw.bin']);
    expect(r.stdout, r.stderr).toContain('updated 1.0.0 -> 1.1.0 (slot b, confirmed)');
    expect(r.code).toBe(0);
    expect(JSON.parse((await runCli(['device', 'status', '--state-dir', stateDir])).stdout)).toMatchObject({ slot: 'b', version: '1.1.0', sha256: hash.digest('hex'), intact: true });
    // The first answer was cut short after the bytes a manifest may have; the downloader took the whole image.
    expect(gets).toEqual(['bytes=0-65535', 'bytes=0-']);
    expect(whole).toEqual([false, true]);
  });

  it('mark-good confirms a trial, mark-bad and rollback go back to the other slot and ask for the reboot', async () => {
    const { dir } = await releaseDir('1.1.0', image(10_000, 6));
    const server = await serve(dir);
    const settings = { ota_domain: server.url, device_id: 'dev1' };
    const cfg = configFile(settings);
    const onTrial = async () => {
      const stateDir = await device('1.0.0');
      const { updater } = testUpdater(settings, stateDir);
      expect((await updater.checkForUpdates()).status).toBe('updated');
      expect((await updater.boot()).state).toBe('trial');
      return stateDir;
    };
    const status = async (stateDir: string) => JSON.parse((await runCli(['device', 'status', '--state-dir', stateDir])).stdout);

    const good = await onTrial();
    const notBad = await runCli(['device', 'mark-good', '--config', cfg, '--state-dir', good]);
    expect(notBad.stdout).toContain('slot b (1.1.0) confirmed');
    expect(notBad.code).toBe(0);
    expect(await status(good)).toMatchObject({ slot: 'b', state: 'confirmed' });
    const again = await runCli(['device', 'mark-good', '--config', cfg, '--state-dir', good]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('nothing to confirm: slot b (1.1.0) is confirmed, not on trial');

    // From a confirmed version: the other slot comes back, and the rolled-back image is not installed again.
    const back = await runCli(['device', 'rollback', '--config', cfg, '--state-dir', good, '--reason', 'field reports']);
    expect(back.code).toBe(75);
    expect(back.stdout).toContain('slot b (1.1.0) rejected; restart the agent to boot slot a (1.0.0)');
    const after = await runCli(['device', '--config', cfg, '--state-dir', good, '--once']);
    expect(after.stderr).toContain('IMAGE_REJECTED');
    expect(await status(good)).toMatchObject({ slot: 'a', version: '1.0.0', state: 'reverted' });

    const bad = await onTrial();
    const r = await runCli(['device', 'mark-bad', '--config', cfg, '--state-dir', bad, '--json']);
    expect(r.code).toBe(75);
    expect(JSON.parse(r.stdout)).toMatchObject({ action: 'mark-bad', reboot: { slot: 'a', version: '1.0.0', reason: 'revert' }, state: 'reverted' });
    expect(server.reports.at(-1)!.report).toMatchObject({ stage: 'failed', reverted: true, reason: 'marked bad by the operator' });
  });
});

describe('logging', () => {
  it('honours log_level and --verbose', async () => {
    const { dir } = await releaseDir('1.0.0', image(1000));
    const server = await serve(dir);
    const stateDir = await device('1.0.0');
    const quiet = await runCli(['device', '--config', configFile({ ota_domain: server.url, device_id: 'dev1', log_level: 'warning' }), '--state-dir', stateDir, '--once']);
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).not.toContain('[INFO]');
    const verbose = await runCli(['device', '--config', configFile({ ota_domain: server.url, device_id: 'dev1', log_level: 'warning' }), '--state-dir', stateDir, '--once', '--verbose']);
    expect(verbose.stderr).toContain('[DEBUG] - Configuration ');
    expect(verbose.stderr).toContain('[INFO] - Checking for updates');
  });
});
