/**
 * The package as a user installs it: `npm pack` (what it holds), then `npm install <tarball>` in a fresh
 * directory, `import`/`require`/tsc of it there, then the installed `ota` publishes, serves and updates a simulated board. And `ota device`
 * under systemd: READY=1 and watchdog pings on a NOTIFY_SOCKET (received here with socat, as
 * systemd would; the protocol is sd_notify(3): one datagram of KEY=VALUE lines per message).
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CLI, configFile, device, image, onCleanup, releaseDir, serve, tempDir, until } from './helpers/fixtures.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function run(command: string, args: string[], cwd: string): Promise<{ code: number; out: string }> {
  return new Promise((done) => {
    execFile(command, args, { cwd, timeout: 120_000 }, (e, stdout, stderr) => done({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, out: stdout + stderr }));
  });
}

describe('the packed package', () => {
  it('holds dist, the docs and LICENSE only, installs from its tarball, its exports resolve for import, require and TypeScript, and its ota updates a board', async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; scripts: Record<string, string> };
    // npm runs `prepare` for `npm pack`, `npm publish` and git installs: the tarball always has dist/.
    expect(pkg.scripts.prepare).toBe('npm run build');
    const dir = tempDir();
    // `npm test` has just built dist/; packing without scripts here spares a second build.
    const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], ROOT);
    expect(packed.code, packed.out).toBe(0);
    const listing = JSON.parse(packed.out.slice(packed.out.indexOf('['))) as { filename: string; files: { path: string }[] }[];
    const files = listing[0]!.files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/index.d.cts', 'dist/cli.cjs', 'dist/espruino/ota-client.js']));
    expect(files.filter((f) => !/^(dist|docs|systemd)\/|^(LICENSE|README\.md|package\.json)$/.test(f))).toEqual([]);
    const tarball = join(dir, listing[0]!.filename);
    const board = join(dir, 'board');
    mkdirSync(board);
    writeFileSync(join(board, 'package.json'), JSON.stringify({ name: 'board', private: true }));
    const installed = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], board);
    expect(installed.code, installed.out).toBe(0);

    const ota = join(board, 'node_modules', '.bin', 'ota');
    expect((await run(ota, ['--version'], board)).out.trim()).toBe(pkg.version);
    writeFileSync(join(board, 'fw.bin'), image(40_000, 12));
    expect((await run(ota, ['publish', '--dir', 'releases', '--file', 'fw.bin', '--version', '2.0.0', '--device', 'pi'], board)).code).toBe(0);
    const server = await serve(join(board, 'releases'));
    expect((await run(ota, ['device', 'init', '--state-dir', 'state', '--version', '1.0.0'], board)).code).toBe(0);
    writeFileSync(join(board, 'default.cfg'), JSON.stringify({ ota_domain: server.url, device_id: 'pi' }));
    const update = await run(ota, ['device', '--config', 'default.cfg', '--state-dir', 'state', '--once'], board);
    expect(update.out).toContain('updated 1.0.0 -> 2.0.0 (slot b, confirmed)');
    expect(update.code).toBe(0);
    // The exports map from the installed package: import, require and the types each resolution finds
    // (import: index.d.ts, require: index.d.cts); a wrong value must not compile.
    const names = 'Object.keys(m).filter((k) => ["createUpdater", "checkForUpdates", "nodePlatform", "isOtaError"].includes(k)).length';
    expect((await run(process.execPath, ['--input-type=module', '-e', 'const m = await import("ota-client"); console.log(' + names + ')'], board)).out.trim()).toBe('4');
    expect((await run(process.execPath, ['-e', 'const m = require("ota-client"); console.log(' + names + ')'], board)).out.trim()).toBe('4');
    writeFileSync(join(board, 'esm.mts'), "import { createUpdater, type OtaSettings } from 'ota-client';\nconst s: OtaSettings = { device_id: 'd', auto_update: true };\ncreateUpdater({ config: s });\n// @ts-expect-error\nconst bad: OtaSettings = { auto_update: 'yes' };\nvoid bad;\n");
    writeFileSync(join(board, 'cjs.cts'), "import ota = require('ota-client');\nota.createUpdater({ config: { device_id: 'd' } });\n// @ts-expect-error\nota.createUpdater({ config: { devise_id: 'd' } });\n");
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const common = ['--noEmit', '--strict', '--types', 'node', '--typeRoots', join(ROOT, 'node_modules', '@types'), '--target', 'es2022'];
    const node16 = await run(process.execPath, [tsc, ...common, '--module', 'node16', '--moduleResolution', 'node16', 'esm.mts', 'cjs.cts'], board);
    expect(node16.code, node16.out).toBe(0);
    const bundler = await run(process.execPath, [tsc, ...common, '--module', 'esnext', '--moduleResolution', 'bundler', 'esm.mts'], board);
    expect(bundler.code, bundler.out).toBe(0);
  }, 180_000);
});

const SOCAT = spawnSync('socat', ['-V']).status === 0;
const NOTIFY = spawnSync('systemd-notify', ['--version']).status === 0;

// Skipped without the programs on a developer's machine; never in CI, which installs them (.ci/run).
describe.skipIf((!SOCAT || !NOTIFY) && !process.env.CI)('ota device under systemd (Type=notify, WatchdogSec=)', () => {
  it('sends READY=1 with a status once it runs, WATCHDOG=1 every half WATCHDOG_USEC, and STOPPING=1', async () => {
    const { dir } = await releaseDir('1.0.0', image(1000));
    const server = await serve(dir);
    const stateDir = await device('1.0.0');
    const socket = join(tempDir(), 'notify');
    // What systemd does: a datagram socket whose path is in NOTIFY_SOCKET.
    const receiver = spawn('socat', ['-u', 'UNIX-RECV:' + socket, 'STDOUT']);
    onCleanup(() => receiver.kill('SIGKILL'));
    let heard = '';
    receiver.stdout.on('data', (d: Buffer) => (heard += d.toString()));
    await until('the notify socket', () => readdirSync(join(socket, '..')).includes('notify'));
    const env = Object.assign({}, process.env, { NOTIFY_SOCKET: socket, WATCHDOG_USEC: '400000' });
    const agent = spawn(process.execPath, [CLI, 'device', '--config', configFile({ ota_domain: server.url, device_id: 'dev1' }), '--state-dir', stateDir], { env, stdio: 'ignore' });
    onCleanup(() => agent.kill('SIGKILL'));
    await until('READY=1', () => heard.includes('READY=1'));
    expect(heard).toContain('STATUS=Running 1.0.0 (slot a); waiting for checks and update requests');
    await until('two watchdog pings', () => heard.split('WATCHDOG=1').length > 2);
    agent.kill('SIGTERM');
    await until('STOPPING=1', () => heard.includes('STOPPING=1'));
  });
});
