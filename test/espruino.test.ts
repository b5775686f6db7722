/**
 * The Espruino build in Espruino's own interpreter ($ESPRUINO_BIN, its Linux build; see
 * docs/espruino.md): the module updates an application kept in Storage from `ota serve`, the
 * "reboot" (a second interpreter run on the same emulated flash) runs the new application on
 * trial, which confirms itself; a broken application is reverted after its boot attempts.
 * `npm run test:espruino`; skipped without $ESPRUINO_BIN (the static gate runs in `npm test`).
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { installModule } from './helpers/espruino-module.js';
import { releaseDir, serve, tempDir } from './helpers/fixtures.js';

const BIN = process.env.ESPRUINO_BIN;

/** One interpreter run in `dir` (its espruino.flash persists between runs): one boot. */
function boot(dir: string, script: string): Promise<string> {
  writeFileSync(join(dir, 'run.js'), script);
  return new Promise((resolve) => {
    execFile(BIN!, ['run.js'], { cwd: dir, timeout: 60000 }, (_e, stdout, stderr) => resolve(stdout + stderr));
  });
}

/**
 * An application: prints its version and boot state; `good` ones confirm themselves on trial.
 * Padded to several 512-byte chunks, so the download refills its chunk buffer.
 */
function app(version: string, good: boolean): Buffer {
  return Buffer.from(
    (good
      ? `require("ota-client").defaultUpdater().status().then(function (s) { console.log("APP ${version} " + s.state);
if (s.state === "trial") require("ota-client").confirm().then(function () { console.log("CONFIRMED ${version}"); }); });`
      : `console.log("APP ${version} starting"); throw new Error("broken application ${version}");`) +
      '\nvar PADDING = "' + 'data '.repeat(600) + '";\n',
  );
}

const checkScript = (url: string, install: string) => `
${install}
require("Storage").writeJSON("default.cfg", { ota_domain: "${url}", device_id: "esp1", firmware_version: "1.0.0", boot_attempts: 2 });
var u = require("ota-client").defaultUpdater({ reboot: function () { console.log("REBOOT"); return Promise.resolve(); } });
u.checkForUpdates().then(function (r) {
  console.log("RESULT " + r.status + " " + (r.version || r.message));
  console.log("MEMORY " + JSON.stringify(process.memory()));
});`;

// The boot state is kept as two checksummed copies (src/platform/espruino/storage-state.ts): read through the module.
const state = 'require("ota-client").defaultUpdater().status().then(function (s) { console.log("STATE " + JSON.stringify(s)); });';

describe.skipIf(!BIN)('Espruino interpreter', () => {
  it('updates the application, runs it on trial, confirms it, and reverts a broken one', { timeout: 120_000 }, async () => {
    const dir = tempDir();
    const install = installModule(dir);
    const good = await releaseDir('1.0.1', app('1.0.1', true), { device: 'esp1' }, 512);
    const server = await serve(good.dir);

    const first = await boot(dir, checkScript(server.url, install));
    expect(first).toContain('RESULT updated 1.0.1');
    expect(first).toContain('REBOOT');
    const rebooted = await boot(dir, '');
    expect(rebooted).toContain('APP 1.0.1 trial');
    expect(rebooted).toContain('CONFIRMED 1.0.1');
    const again = await boot(dir, '');
    expect(again).toContain('APP 1.0.1 confirmed');
    expect(JSON.parse((await boot(dir, state)).split('STATE ')[1]!.split('\n')[0]!)).toMatchObject({ slot: 'b', state: 'confirmed' });

    const broken = await releaseDir('1.0.2', app('1.0.2', false), { device: 'esp1' }, 512);
    const server2 = await serve(broken.dir);
    expect(await boot(dir, checkScript(server2.url, install))).toContain('RESULT updated 1.0.2');
    for (let attempt = 1; attempt <= 2; attempt++) expect(await boot(dir, '')).toContain('broken application 1.0.2');
    const reverted = await boot(dir, '');
    expect(reverted).toContain('Update reverted: slot a (1.0.2) was not confirmed within 2 boot attempts');
    expect(reverted).toContain('APP 1.0.1 reverted');
    expect(server2.reports.at(-1)!.report).toMatchObject({ stage: 'failed', version: '1.0.2', reverted: true });
    console.log('espruino memory after an update: ' + first.split('MEMORY ')[1]!.split('\n')[0]);
  });

  it('a board without the check\'s file (ota-client-run) fails the check naming the file, and nothing rejects', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    const out = await boot(dir, `${installModule(dir)}
require("Storage").erase("ota-client-run");
require("Storage").writeJSON("default.cfg", { ota_domain: "http://127.0.0.1:9", device_id: "esp1", firmware_version: "1.0.0" });
require("ota-client").checkForUpdates().then(function (r) { console.log("RESULT " + r.status + " " + r.error.code + " " + r.message); });`);
    expect(out).toContain('RESULT failed CONFIG_INVALID the Storage file ota-client-run cannot be loaded');
    expect(out).toContain('upload all three files of the Espruino build');
  });
});

