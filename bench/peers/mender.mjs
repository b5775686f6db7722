// Mender (Debian's `mender-client` 3.4, standalone `mender install <URL>`) as a contender: a
// module-image artifact (`mender-artifact write module-image`) whose update module
// (mender-module.sh) streams the payload into a file. Mender looks for update modules only in
// /usr/share/mender/modules/v3 and reads /etc/mender/artifact_info: both are written here
// (root needed). See ../../../shared/notes/peer-updaters.md.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { which } from './which.mjs';

export const MENDER = which('mender');
export const MENDER_ARTIFACT = which('mender-artifact');
const MODULE_TYPE = 'ota-bench-file';
const MODULES = '/usr/share/mender/modules/v3';

/** Why Mender cannot run here, or null. */
export function menderMissing() {
  if (!MENDER) return 'mender is not installed (apt-get install -y mender-client)';
  if (!MENDER_ARTIFACT) return 'mender-artifact is not installed (apt-get install -y mender-artifact)';
  if (process.getuid?.() !== 0) return 'installing an update module into ' + MODULES + ' needs root';
  return null;
}

/** Builds `<serveDir>/bench.mender` for `image` in `work`; `argv(url)` installs it into `target`. */
export function menderContender(work, serveDir, image) {
  const dir = join(work, 'mender');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const target = join(dir, 'target.bin');
  mkdirSync(MODULES, { recursive: true });
  copyFileSync(fileURLToPath(new URL('mender-module.sh', import.meta.url)), join(MODULES, MODULE_TYPE));
  if (!existsSync('/etc/mender/artifact_info')) {
    mkdirSync('/etc/mender', { recursive: true });
    writeFileSync('/etc/mender/artifact_info', 'artifact_name=ota-bench-1\n');
  }
  writeFileSync(join(dir, 'device_type'), 'device_type=ota-bench\n');
  writeFileSync(join(dir, 'meta.json'), JSON.stringify({ target }));
  // Rootfs partitions are never used by a module update; they only have to be named.
  writeFileSync(
    join(dir, 'mender.conf'),
    JSON.stringify({ DeviceTypeFile: join(dir, 'device_type'), RootfsPartA: join(dir, 'partA'), RootfsPartB: join(dir, 'partB'), ModuleTimeoutSeconds: 600 }),
  );
  writeFileSync(join(dir, 'fallback.conf'), '{}');
  // Uncompressed, as the other contenders get the image: the default gzip would make Mender
  // inflate (copy and CRC-32) a payload that deflate cannot shrink, work the others do not do.
  const r = spawnSync(MENDER_ARTIFACT, ['write', 'module-image', '--compression', 'none', '-T', MODULE_TYPE, '-n', 'ota-bench-2', '-t', 'ota-bench', '-o', join(serveDir, 'bench.mender'), '-f', image, '-m', join(dir, 'meta.json')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error('mender-artifact failed: ' + r.stderr);
  const data = join(dir, 'data');
  return {
    name: 'Mender, update module streaming to a file',
    target,
    // A fresh data directory each run: no record of an earlier install.
    prepare() {
      rmSync(data, { recursive: true, force: true });
      mkdirSync(join(data, 'scripts'), { recursive: true });
      rmSync(target, { force: true });
    },
    argv: (url) => [MENDER, '-c', join(dir, 'mender.conf'), '-b', join(dir, 'fallback.conf'), '-d', data, '--no-syslog', '-l', 'error', 'install', url + '/bench.mender'],
  };
}
