/**
 * The console page in Debian's Chromium (headless, playwright-core), against real `ota serve
 * --console` and `ota device` processes and a real Mosquitto: upload and Flash, a staged rollout
 * to 20 devices, a rollout that halts itself, and device-supplied text that must stay text.
 * It also makes the console's screenshots: into a temporary directory, or into docs/ with
 * `OTA_SCREENSHOTS=docs` (so that a test run leaves the tracked files alone).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agent } from './helpers/agent.js';
import { CHROMIUM, launchChromium, textOf } from './helpers/browser.js';
import { CLI, configFile, device, image, runCli, startCli, tempDir, until } from './helpers/fixtures.js';
import { MOSQUITTO, startMosquitto } from './helpers/mosquitto.js';
import { inWave } from './helpers/rollout-wave.js';

// CI installs chromium and mosquitto, so there these tests must run; elsewhere they are skipped without them.
const describeIt = (CHROMIUM && MOSQUITTO) || process.env.CI ? describe : describe.skip;

const TOKEN = 'browser-test-admin-token-42';
/** Each test starts many processes; on a busy 2-core machine that takes a while (about 10-30 s idle). */
const SLOW = 120_000;
const DOCS =
  process.env.OTA_SCREENSHOTS === 'docs' ? fileURLToPath(new URL('../docs/', import.meta.url)) : mkdtempSync(join(tmpdir(), 'ota-shots-'));

let browser: Browser;
beforeAll(async () => {
  if (CHROMIUM || process.env.CI) browser = await launchChromium();
});
afterAll(async () => {
  if (browser) await browser.close();
  if (process.env.OTA_SCREENSHOTS !== 'docs') rmSync(DOCS, { recursive: true, force: true });
});

/** `ota serve --console` as a process; its URL and release directory. */
async function consoleServer(extra: string[] = []) {
  const dir = tempDir();
  const line = await startCli(['serve', '--dir', dir, '--port', '0', '--quiet', '--console', '--admin-token', TOKEN, ...extra]);
  return { dir, url: /listening on (\S+)/.exec(line)![1]! };
}

/** The console in a new page, signed in through the #token= link `ota serve` prints. */
async function openConsole(url: string, viewport = { width: 1280, height: 900 }): Promise<Page> {
  const page = await browser.newPage({ viewport });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url + '/console/#token=' + TOKEN);
  await page.waitForSelector('#app:not([hidden])');
  expect(errors).toEqual([]);
  return page;
}

const cell = (id: string, column: string) => 'tr[data-device="' + id + '"] .' + column;

async function waitText(page: Page, selector: string, test: (text: string) => boolean, what: string, ms = 30000) {
  await until(what, async () => test((await textOf(page, selector)) ?? ''), ms);
}

/** Publishes through the page's form, as a person would. */
async function uploadInPage(page: Page, o: { file: string; version: string; kind: 'device' | 'group'; target: string; rollout?: number; notes?: string }) {
  await page.setInputFiles('#up-file', o.file);
  await page.fill('#up-version', o.version);
  await page.selectOption('#up-kind', o.kind);
  await page.fill('#up-target', o.target);
  await page.fill('#up-rollout', o.rollout === undefined ? '' : String(o.rollout));
  await page.fill('#up-notes', o.notes ?? '');
  await page.click('#upload button[type="submit"]');
  await waitText(page, '#upload-status', (t) => t.startsWith('Published ' + o.version), 'the upload of ' + o.version);
}

function firmware(version: string, size: number): string {
  const file = join(tempDir(), 'firmware-' + version + '.bin');
  writeFileSync(file, image(size, version.length * 31 + size));
  return file;
}

/** One `ota device --once` run (a light simulated device); resolves with its exit code. */
function once(cfg: string, stateDir: string): Promise<number> {
  return new Promise((resolve) => execFile(process.execPath, [CLI, 'device', '--config', cfg, '--state-dir', stateDir, '--once'], (err) => resolve(err ? Number(err.code) : 0)));
}

/** Runs `jobs` with at most `n` at a time. */
async function limited<T>(n: number, jobs: (() => Promise<T>)[]): Promise<T[]> {
  const out: T[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < jobs.length) {
      const i = next++;
      out[i] = await jobs[i]!();
    }
  }));
  return out;
}

/** Simulated devices of a group at `version`, each with its own configuration. */
async function fleet(url: string, group: string, count: number, version: string, settings: Record<string, unknown> = {}) {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const id = group + '-' + String(i + 1).padStart(2, '0');
      return { id, stateDir: await device(version, image(3000, i + 1)), cfg: configFile({ ota_domain: url, device_id: id, group_id: group, ...settings }) };
    }),
  );
}

describeIt('the console in a browser', () => {
  it('publishes an upload, Flashes a device over MQTT and shows it go from 1.0.2 to 1.0.3 with its answers', async () => {
    const broker = await startMosquitto();
    const { url } = await consoleServer(['--mqtt', 'mqtt://acme@127.0.0.1:' + broker.port]);
    const stateDir = await device('1.0.2', image(20_000, 5));
    const cfg = configFile({ ota_domain: url, device_id: 'dev1', mqtt_server: '127.0.0.1', mqtt_port: broker.port, mqtt_user: 'acme', auto_update: true, first_check_delay: 0, check_interval: 3600, check_jitter: 0 });
    const a = agent(cfg, stateDir);
    await until('the agent to subscribe', () => a.output().includes('waiting for update requests'));

    const page = await openConsole(url);
    await waitText(page, cell('dev1', 'version'), (t) => t === '1.0.2', 'dev1 in the table at 1.0.2');
    await uploadInPage(page, { file: firmware('1.0.3', 200_000), version: '1.0.3', kind: 'device', target: 'dev1', notes: 'Fixes the sensor driver' });

    // Flash from the keyboard: the button is reachable and pressed with Enter.
    await page.focus('button[aria-label="Flash dev1"]');
    await page.keyboard.press('Enter');
    await waitText(page, cell('dev1', 'version'), (t) => t === '1.0.3', 'dev1 at 1.0.3 in the table');
    await waitText(page, cell('dev1', 'state'), (t) => t === 'confirmed', 'dev1 confirmed');
    await waitText(page, cell('dev1', 'flash-cell .codes'), (t) => t.includes('200 received') && t.includes('201 updating'), 'the answers 200 and 201');
    expect(JSON.parse((await runCli(['device', 'status', '--state-dir', stateDir])).stdout)).toMatchObject({ version: '1.0.3', state: 'confirmed' });
    await waitText(page, 'table[data-target="device dev1"] tr[data-version="1.0.3"] .holders', (t) => t === '1: dev1', 'dev1 listed as having 1.0.3');
    await page.screenshot({ path: join(DOCS, 'console.png'), fullPage: true });

    // The device's own page: its report history, newest first.
    await page.click('tr[data-device="dev1"] th a');
    await page.waitForSelector('#device-page:not([hidden])');
    await until('the history', async () => (await page.$$('#history tbody tr')).length >= 3);
    const stages = await page.$$eval('#history tbody tr td:nth-child(2)', (tds) => tds.map((td) => td.textContent));
    expect(stages.slice(0, 3)).toEqual(['confirmed', 'installed', 'downloading']);

    // On a phone: the same page, one column, nothing wider than the screen but the scrolling tables.
    const phone = await openConsole(url, { width: 390, height: 844 });
    await waitText(phone, cell('dev1', 'version'), (t) => t === '1.0.3', 'the phone view');
    expect(await phone.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await phone.screenshot({ path: join(DOCS, 'console-phone.png') });
    // The keyboard starts at the skip link, which leads to the devices.
    await phone.keyboard.press('Tab');
    expect(await phone.evaluate('document.activeElement.textContent')).toBe('Skip to the devices');
  }, SLOW);

  it('rolls a release out to 25 % of a group of 20, then 50 %, and only the devices in the wave update', async () => {
    const { url, dir } = await consoleServer();
    const devices = await fleet(url, 'fleet', 20, '1.0.0');
    const page = await openConsole(url);
    await uploadInPage(page, { file: firmware('1.1.0', 30_000), version: '1.1.0', kind: 'group', target: 'fleet', rollout: 25 });
    const round = (pct: number, which: typeof devices) => limited(4, which.map((d) => () => once(d.cfg, d.stateDir)));
    const check = async (pct: number) => {
      for (const d of devices) await waitText(page, cell(d.id, 'version'), (t) => t === (inWave(d.id, pct) ? '1.1.0' : '1.0.0'), d.id + ' at ' + pct + ' %');
      const updated = devices.filter((d) => inWave(d.id, pct)).length;
      await waitText(page, '[data-group="fleet"]', (t) => t.includes('Updated ' + updated + ' of 20 known devices; in the wave ' + updated + ', failed 0'), 'the rollout progress at ' + pct + ' %');
    };

    expect(await round(25, devices)).toEqual(devices.map(() => 0));
    await check(25);
    const first = devices.filter((d) => inWave(d.id, 25)).length;
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThan(20);

    // The console raises the percentage; devices already updated stay, more join.
    await page.fill('#pct-fleet', '50');
    await page.click('[data-group="fleet"] .rollout-form button');
    await until('the manifest at 50 %', () => JSON.parse(readFileSync(join(dir, 'v1/ota/group/latest/fleet'), 'utf8')).rollout === 50);
    await round(50, devices.filter((d) => !inWave(d.id, 25)));
    await check(50);
    expect(devices.filter((d) => inWave(d.id, 50)).length).toBeGreaterThan(first);
    await page.locator('#groups').screenshot({ path: join(DOCS, 'console-rollout.png') });
  }, SLOW);

  it('halts a rollout by itself when devices in the wave revert', async () => {
    const { url, dir } = await consoleServer();
    // Every trial of the new image fails its health check, so each device that installs it reverts.
    const devices = await fleet(url, 'canary', 8, '1.0.0', { health_command: 'exit 1' });
    const wave = devices.filter((d) => inWave(d.id, 50));
    expect(wave.length).toBeGreaterThanOrEqual(2);
    const page = await openConsole(url);
    await uploadInPage(page, { file: firmware('1.2.0', 30_000), version: '1.2.0', kind: 'group', target: 'canary', rollout: 50 });

    // The first device of the wave installs, fails its trial and reverts: the rollout halts.
    expect(await once(wave[0]!.cfg, wave[0]!.stateDir)).toBe(5); // REVERTED (src/cli/exit-codes.ts)
    await waitText(page, '[data-group="canary"] .rollout-status', (t) => t.startsWith('Halted: 1 of 1 devices in the wave failed or reverted 1.2.0'), 'the halt');
    const rest = devices.filter((d) => d !== wave[0]);
    expect(await limited(4, rest.map((d) => () => once(d.cfg, d.stateDir)))).toEqual(rest.map(() => 0));
    await waitText(page, cell(wave[0]!.id, 'state'), (t) => t === 'reverted', 'the reverted device');
    expect(await textOf(page, cell(wave[0]!.id, 'last-error'))).toContain('HEALTH_CHECK');
    for (const d of devices) {
      expect(JSON.parse((await runCli(['device', 'status', '--state-dir', d.stateDir])).stdout).version, d.id).toBe('1.0.0');
    }
    // The rest of the wave never tried: the manifest now takes nobody.
    expect(JSON.parse(readFileSync(join(dir, 'v1/ota/group/latest/canary'), 'utf8')).rollout).toBe(0);
    for (const d of wave.slice(1)) expect(await textOf(page, cell(d.id, 'state')), d.id).toBe('—');
  }, SLOW);

  it('shows what a device sends as text, never as markup', async () => {
    const { url } = await consoleServer();
    const hostile = '<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>';
    const res = await fetch(url + '/v1/ota/device/status/evil', { method: 'POST', body: JSON.stringify({ stage: 'failed', version: hostile, code: '<b>X</b>', reason: hostile }) });
    expect(res.status).toBe(204);
    // Ids that name properties of every JavaScript object are ordinary ids on the page too.
    for (const id of ['__proto__', 'constructor']) await fetch(url + '/v1/ota/device/status/' + id, { method: 'POST', body: JSON.stringify({ stage: 'confirmed', version: '1.0.1' }) });
    const page = await openConsole(url);
    for (const id of ['__proto__', 'constructor']) await waitText(page, cell(id, 'version'), (t) => t === '1.0.1', id + ' in the table');
    await waitText(page, cell('evil', 'last-error'), (t) => t.includes('<b>X</b>') && t.includes('<img src=x'), 'the literal text');
    expect(await page.$$('#device-table img, #device-table script, #device-table b')).toHaveLength(0);
    await page.click('tr[data-device="evil"] th a');
    await until('the history', async () => ((await textOf(page, '#history tbody')) ?? '').includes('<script>'));
    expect(await page.$$('#history img, #history script')).toHaveLength(0);
    expect(await page.title()).toBe('ota console');
  }, SLOW);
});
