/**
 * Modules that an up-to-date check over plain HTTP does not use, loaded when first asked for. A
 * static import evaluates a built-in as the library loads: node:crypto, node:tls, node:zlib and
 * node:child_process together cost an `ota device --once` ~5 ms of CPU and an idle agent ~1 MiB of
 * RSS (`npm run bench`), node:fs/promises (with the readline and watcher modules it loads) 0.8 MiB, for HTTPS, hashing an image, CRC-32 of a download, gzip, signatures and
 * commands that such a start never reaches. Packages are loaded with require, not import(): the
 * `ota` bundle runs in a vm.Script, where import() needs an experimental loader that warns on
 * stderr (src/cli/entry.ts). Node caches each module, so calling these again costs a lookup.
 */
import { createRequire } from 'node:module';

const load = createRequire(import.meta.url);

/** node:crypto (hashes, signatures, random client ids). */
export const cryptoModule = (): typeof import('node:crypto') => load('node:crypto');

/** node:tls (https and mqtts). */
export const tlsModule = (): typeof import('node:tls') => load('node:tls');

/** node:zlib (CRC-32 of downloaded chunks, gzip-compressed images). */
export const zlibModule = (): typeof import('node:zlib') => load('node:zlib');

/** node:fs/promises (`file://` releases, `ota device init`; the agent's own files use node:fs). */
export const fsPromisesModule = (): typeof import('node:fs/promises') => load('node:fs/promises');

/** node:child_process (reboot and health commands, boot-loader tools, systemd-notify). */
export const childProcessModule = (): typeof import('node:child_process') => load('node:child_process');

/** tar (bundles). */
export const tarPackage = (): typeof import('tar') => load('tar');
