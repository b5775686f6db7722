/**
 * Bundles: an application directory with node_modules published as a tar archive, updated by a
 * delta, unpacked into the inactive slot's directory and started by `ota run`; and archives made
 * by GNU tar that try to leave the slot, which are refused with the running slot untouched.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isOtaError } from '../src/errors.js';
import { packBundle, unpackBundle } from '../src/platform/node/bundle.js';
import { nodeFileOps, type FileOps } from '../src/platform/node/file-ops.js';
import { publish } from '../src/server/release-store.js';
import { configFile, runCli, serve, tempDir } from './helpers/fixtures.js';

/** An application directory: its entry uses a dependency from node_modules. */
function app(version: string, greeting: string): string {
  const dir = tempDir();
  mkdirSync(join(dir, 'node_modules/greet'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'app', version, main: 'index.js', dependencies: { greet: '1.0.0' } }));
  writeFileSync(join(dir, 'index.js'), "console.log('app ' + require('./package.json').version + ' says ' + require('greet')() + ' from ' + process.env.OTA_SLOT_PATH);\n");
  writeFileSync(join(dir, 'node_modules/greet/package.json'), JSON.stringify({ name: 'greet', version: '1.0.0', main: 'greet.js' }));
  writeFileSync(join(dir, 'node_modules/greet/greet.js'), 'module.exports = () => ' + JSON.stringify(greeting) + ';\n' + '// filler\n'.repeat(2000));
  return dir;
}

describe('bundles', () => {
  it('updates an application with node_modules by a delta and `ota run` starts the new one', async () => {
    const releases = join(tempDir(), 'releases');
    const v1 = app('1.0.0', 'hello');
    const publish = (dir: string, version: string, ...extra: string[]) => runCli(['publish', '--dir', releases, '--bundle', dir, '--version', version, '--device', 'dev1', ...extra]);
    expect((await publish(v1, '1.0.0')).code).toBe(0);
    const out = await publish(app('1.0.1', 'bonjour'), '1.0.1', '--delta-from', '1.0.0', '--compress', 'gzip');
    expect(out.stdout).toContain('delta from');
    const manifest = JSON.parse(readFileSync(join(releases, 'v1/ota/device/latest/dev1'), 'utf8'));
    expect(manifest.format).toBe('tar');
    expect(manifest.patches[0].size).toBeLessThan(manifest.size / 10);

    const stateDir = join(tempDir(), 'device');
    expect((await runCli(['device', 'init', '--state-dir', stateDir, '--version', '1.0.0', '--bundle', v1])).code).toBe(0);
    const server = await serve(releases);
    const cfg = configFile({ ota_domain: server.url, device_id: 'dev1', state_dir: stateDir });
    const before = await runCli(['run', '--config', cfg, '--state-dir', stateDir]);
    expect(before.stdout).toContain('app 1.0.0 says hello from ' + join(stateDir, 'slots/a'));

    const update = await runCli(['device', '--config', cfg, '--state-dir', stateDir, '--once']);
    expect(update.code, update.stderr).toBe(0);
    expect(update.stderr).toContain('delta');
    expect(readlinkSync(join(stateDir, 'current'))).toBe(join('slots', 'b'));
    const after = await runCli(['run', '--config', cfg, '--state-dir', stateDir]);
    expect(after.stdout).toContain('app 1.0.1 says bonjour from ' + join(stateDir, 'slots/b'));
  });

  it('two bundles published at once into one release directory each publish their own archive', async () => {
    const releases = join(tempDir(), 'releases');
    const [a, b] = await Promise.all([
      publish({ dir: releases, file: '', bundle: app('1.0.1', 'hello'), version: '1.0.1', audience: { device: 'dev1' } }),
      publish({ dir: releases, file: '', bundle: app('1.0.2', 'bonjour'), version: '1.0.2', audience: { device: 'dev2' } }),
    ]);
    for (const [m, greeting] of [[a, 'hello'], [b, 'bonjour']] as const) {
      const archive = readFileSync(join(releases, m.url));
      expect(createHash('sha256').update(archive).digest('hex')).toBe(m.sha256);
      expect(archive.includes(JSON.stringify(greeting))).toBe(true);
    }
    expect(a.sha256).not.toBe(b.sha256);
    expect(readdirSync(join(releases, 'firmware')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('refuses a bundle with a link leaving the slot; the device keeps running its slot', async () => {
    const releases = join(tempDir(), 'releases');
    const v1 = app('1.0.0', 'hello');
    const evil = app('1.0.1', 'pwned');
    symlinkSync('/etc', join(evil, 'etc'));
    // The publisher refuses it...
    const refusedByPublish = await runCli(['publish', '--dir', releases, '--bundle', evil, '--version', '1.0.1', '--device', 'dev1']);
    expect(refusedByPublish.stderr).toContain('links to an absolute path "/etc"; devices refuse such bundles');
    // ...so it is published as GNU tar packed it, as another publisher could.
    const tar = join(tempDir(), 'evil.tar');
    execFileSync('tar', ['-cf', tar, '-C', evil, '.']);
    await publish({ dir: releases, file: tar, format: 'tar', version: '1.0.1', audience: { device: 'dev1' } });
    const stateDir = join(tempDir(), 'device');
    await runCli(['device', 'init', '--state-dir', stateDir, '--version', '1.0.0', '--bundle', v1]);
    const server = await serve(releases);
    const cfg = configFile({ ota_domain: server.url, device_id: 'dev1', state_dir: stateDir });
    const update = await runCli(['device', '--config', cfg, '--state-dir', stateDir, '--once']);
    expect(update.stderr).toContain('bundle entry "./etc" links to an absolute path');
    expect(readlinkSync(join(stateDir, 'current'))).toBe(join('slots', 'a'));
    expect((await runCli(['run', '--config', cfg, '--state-dir', stateDir])).stdout).toContain('app 1.0.0 says hello');
  });
});

describe('unpacking refuses entries that leave the slot (archives made by GNU tar)', () => {
  /** Makes an archive with GNU tar in `cwd`, keeping names as given (-P). */
  function gnuTar(cwd: string, ...members: string[]): string {
    const file = join(tempDir(), 'bundle.tar');
    execFileSync('tar', ['-cPf', file, ...members], { cwd });
    return file;
  }

  async function refused(file: string): Promise<string> {
    const slot = join(tempDir(), 'b');
    mkdirSync(slot);
    writeFileSync(join(slot, 'kept'), 'old');
    try {
      await unpackBundle(file, slot);
    } catch (e) {
      expect(isOtaError(e) && e.code).toBe('IMAGE_INVALID');
      expect(readFileSync(join(slot, 'kept'), 'utf8')).toBe('old');
      return (e as Error).message;
    }
    throw new Error('the archive was unpacked');
  }

  it('refuses absolute paths, .. paths, links out and FIFOs', async () => {
    const root = tempDir();
    mkdirSync(join(root, 'app'));
    writeFileSync(join(root, 'outside.txt'), 'x');
    writeFileSync(join(root, 'app', 'in.txt'), 'x');
    symlinkSync('../../outside.txt', join(root, 'app', 'up'));
    execFileSync('mkfifo', [join(root, 'app', 'pipe')]);
    expect(await refused(gnuTar(root, join(root, 'outside.txt')))).toContain('absolute path');
    expect(await refused(gnuTar(join(root, 'app'), 'in.txt', '../outside.txt'))).toContain('leaves the bundle');
    expect(await refused(gnuTar(join(root, 'app'), 'up'))).toContain('links outside the bundle');
    expect(await refused(gnuTar(join(root, 'app'), 'pipe'))).toContain('FIFO');
  });
});

describe('unpacking is durable before the slot is named', () => {
  it('fsyncs every file and directory of the new tree before renaming it into place, then the directory holding it', async () => {
    const root = tempDir();
    const archive = join(root, 'b.bin');
    await packBundle(app('1.0.0', 'hello'), archive);
    mkdirSync(join(root, 'b'));
    writeFileSync(join(root, 'b', 'old.js'), 'old');
    // The real file operations, recorded with paths relative to the slots directory.
    const events: string[] = [];
    const opened: Record<number, string> = {};
    const rel = (path: string) => relative(root, path) || '.';
    const ops: FileOps = Object.assign({}, nodeFileOps, {
      open(path: string, flags: 'r' | 'r+' | 'w+' | 'wx') {
        const fd = nodeFileOps.open(path, flags);
        opened[fd] = rel(path);
        return fd;
      },
      fsync: (fd: number) => (events.push('fsync ' + opened[fd]), nodeFileOps.fsync(fd)),
      fsyncDir: (dir: string) => (events.push('fsync ' + rel(dir) + '/'), nodeFileOps.fsyncDir(dir)),
      rename: (from: string, to: string) => (events.push('rename ' + rel(from) + ' ' + rel(to)), nodeFileOps.rename(from, to)),
    });
    await unpackBundle(archive, join(root, 'b'), ops);
    expect(readFileSync(join(root, 'b', 'node_modules/greet/package.json'), 'utf8')).toContain('greet');
    const renamed = events.indexOf('rename b.new b');
    expect(renamed).toBeGreaterThan(0);
    const before = events.slice(0, renamed).sort();
    expect(before).toEqual(
      ['b.new/', 'b.new/index.js', 'b.new/node_modules/', 'b.new/node_modules/greet/', 'b.new/node_modules/greet/greet.js', 'b.new/node_modules/greet/package.json', 'b.new/package.json', 'b b.old']
        .map((e) => (e.includes(' ') ? 'rename ' + e : 'fsync ' + e))
        .sort(),
    );
    expect(events.slice(renamed + 1)).toEqual(['fsync ./']);
  });
});
