/**
 * The remote "Flash" trigger over a real Mosquitto broker, and the long-running `ota device`
 * agent picking up releases by itself.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agent } from './helpers/agent.js';
import { faultServer } from './helpers/fault-server.js';
import { configFile, device, freePort, image, manifestFor, onCleanup, releaseDir, runCli, serve, tempDir, until } from './helpers/fixtures.js';
import { MOSQUITTO, mosquittoPub, mosquittoSub, startMosquitto } from './helpers/mosquitto.js';

// CI installs mosquitto, so there these tests must run; elsewhere they are skipped without it.
const describeIt = MOSQUITTO !== undefined || process.env.CI ? describe : describe.skip;

async function status(stateDir: string) {
  return JSON.parse((await runCli(['device', 'status', '--state-dir', stateDir])).stdout);
}

/** The operator's console as mosquitto_sub and mosquitto_pub: publishes triggers, collects response codes. */
async function console_(port: number, responseTopic: string) {
  const answers = await mosquittoSub(port, responseTopic);
  return {
    get codes(): number[] {
      return answers.messages.map((m) => JSON.parse(m.payload).code);
    },
    flash: (topic: string) => mosquittoPub(port, topic, 'flash'),
  };
}

describeIt('remote trigger over MQTT', () => {
  async function setup(published: string | null, settings: Record<string, unknown> = {}) {
    const broker = await startMosquitto();
    const dir = published ? (await releaseDir(published, image(300_000, 8))).dir : tempDir();
    const server = await serve(dir);
    const stateDir = await device('1.0.0');
    const cfg = configFile({ ota_domain: server.url, device_id: 'dev1', mqtt_server: '127.0.0.1', mqtt_port: broker.port, mqtt_user: 'acme', auto_update: false, ...settings });
    const operator = await console_(broker.port, '/acme/devices/dev1/update-response');
    const a = agent(cfg, stateDir);
    await until('the agent to subscribe', () => a.output().includes('waiting for update requests'));
    return { broker, stateDir, operator, a };
  }

  it('with auto_update off, updates only when flashed, answering 200 then 201', async () => {
    const { stateDir, operator, a } = await setup('1.2.0');
    await new Promise((r) => setTimeout(r, 300));
    expect(a.output()).not.toContain('Checking for updates');
    await operator.flash('/acme/devices/dev1/update-trigger');
    await until('the update to be confirmed', async () => (await status(stateDir)).state === 'confirmed' && (await status(stateDir)).version === '1.2.0');
    await until('two answers', () => operator.codes.length >= 2);
    expect(operator.codes).toEqual([200, 201]);
    expect(a.output()).toContain('Update requested remotely');
  });

  it('answers 202 when up to date and 203 when the server has no firmware', async () => {
    const same = await setup('1.0.0');
    await same.operator.flash('/acme/devices/dev1/update-trigger');
    await until('two answers', () => same.operator.codes.length >= 2);
    expect(same.operator.codes).toEqual([200, 202]);
    const none = await setup(null);
    await none.operator.flash('/acme/devices/dev1/update-trigger');
    await until('two answers', () => none.operator.codes.length >= 2);
    expect(none.operator.codes).toEqual([200, 203]);
  });

  it('listens on the group topic in a group', async () => {
    const broker = await startMosquitto();
    const { dir } = await releaseDir('2.0.0', image(10_000), { group: 'kitchen' });
    const server = await serve(dir);
    const stateDir = await device('1.0.0');
    const cfg = configFile({ ota_domain: server.url, device_id: 'dev1', group_id: 'kitchen', mqtt_server: '127.0.0.1', mqtt_port: broker.port, mqtt_user: 'acme' });
    const operator = await console_(broker.port, '/acme/devices/dev1/update-response');
    const a = agent(cfg, stateDir);
    await until('the agent to subscribe', () => a.output().includes('/acme/groups/kitchen/update-trigger'));
    await operator.flash('/acme/groups/kitchen/update-trigger');
    await until('the group update', async () => (await status(stateDir)).version === '2.0.0');
    expect(operator.codes.slice(0, 2)).toEqual([200, 201]);
  });

  it('keeps retrying a broker that answers "Not authorized", with backoff, saying why in the log and in device status (issue 13)', async () => {
    const broker = await startMosquitto(undefined, true);
    const server = await serve(tempDir());
    const stateDir = await device('1.0.0');
    const cfg = configFile({ ota_domain: server.url, device_id: 'dev1', mqtt_server: '127.0.0.1', mqtt_port: broker.port, mqtt_user: 'acme', mqtt_pass: 'wrong-password', auto_update: false });
    const a = agent(cfg, stateDir);
    const refusals = () => a.output().split('refused the connection: Connection refused: Not authorized').length - 1;
    await until('a second refusal', () => refusals() >= 2, 10000);
    expect(a.process.exitCode).toBe(null);
    expect(a.output()).toContain('(check mqtt_user and mqtt_pass); retrying in ');
    expect(a.output()).not.toContain('wrong-password');
    const s = await status(stateDir);
    expect(s.trigger).toMatchObject({ state: 'refused', reason: 'Connection refused: Not authorized', url: 'mqtt://127.0.0.1:' + broker.port });
  });

  it('answers 201 at once when a scheduled update is already downloading (issue 13)', async () => {
    const broker = await startMosquitto();
    const data = image(2_000_000, 9);
    const server = await faultServer(await manifestFor(data), data, { stallAfter: 200_000 });
    const stateDir = await device('1.0.0');
    const cfg = configFile({ ota_domain: server.url, device_id: 'dev1', mqtt_server: '127.0.0.1', mqtt_port: broker.port, mqtt_user: 'acme', auto_update: true, first_check_delay: 0, download_timeout: '10m' });
    const operator = await console_(broker.port, '/acme/devices/dev1/update-response');
    const a = agent(cfg, stateDir);
    await until('the agent to subscribe', () => a.output().includes('waiting for update requests'));
    await until('the download to stall', () => server.bytesSent >= 200_000);
    await operator.flash('/acme/devices/dev1/update-trigger');
    await until('two answers', () => operator.codes.length >= 2, 3000);
    expect(operator.codes).toEqual([200, 201]);
  });

  it('reconnects when the broker comes up after the agent', async () => {
    const port = await freePort();
    const { dir } = await releaseDir('1.0.0', image(1000));
    const server = await serve(dir);
    const stateDir = await device('1.0.0');
    const cfg = configFile({ ota_domain: server.url, device_id: 'dev1', mqtt_server: '127.0.0.1', mqtt_port: port, mqtt_user: 'acme' });
    const a = agent(cfg, stateDir);
    // The words name the settings the broker's address came from.
    await until('a failed connection', () => a.output().includes('connection refused (is the server running, and are mqtt_server and mqtt_port right?)'));
    await startMosquitto(port);
    await until('the agent to subscribe', () => a.output().includes('waiting for update requests'), 30000);
    const operator = await console_(port, '/acme/devices/dev1/update-response');
    await operator.flash('/acme/devices/dev1/update-trigger');
    await until('two answers', () => operator.codes.length >= 2);
    expect(operator.codes).toEqual([200, 202]);
  });
});

describe('the MQTT trigger in a library', () => {
  it('logs to the logger given to createUpdater', async () => {
    const port = await freePort(); // nothing listens there
    const lines: string[] = [];
    const { createUpdater } = await import('../dist/index.js');
    const u = createUpdater({
      config: { ota_domain: 'http://127.0.0.1:' + port, device_id: 'dev1', mqtt_server: '127.0.0.1', mqtt_port: port, mqtt_user: 'acme', auto_update: false },
      stateDir: tempDir(),
      platform: { logger: { log: (level: string, message: string) => lines.push(level + ' ' + message) } },
    });
    u.start();
    onCleanup(() => u.stop());
    await until('the refused connection to be logged', () => lines.some((l) => l.indexOf('WARNING MQTT mqtt://127.0.0.1:' + port) === 0));
  });
});

describe('the long-running agent', () => {
  /** `ota device` checking every second against an empty release directory, after its first check. */
  async function everySecond() {
    const releases = tempDir();
    const server = await serve(releases);
    const stateDir = await device('1.0.0');
    const cfg = configFile({ ota_domain: server.url, device_id: 'dev1', auto_update: true, first_check_delay: 0, check_interval: 1, check_jitter: 0 });
    const a = agent(cfg, stateDir);
    await until('a first check', () => a.output().includes('No firmware available'));
    return { releases, server, stateDir, cfg, a };
  }

  it('picks up a release published while it runs, by itself', async () => {
    const { releases, stateDir } = await everySecond();
    const file = join(tempDir(), 'fw.bin');
    writeFileSync(file, image(50_000, 12));
    expect((await runCli(['publish', '--dir', releases, '--file', file, '--version', '1.0.1', '--device', 'dev1'])).code).toBe(0);
    await until('the update', async () => (await status(stateDir)).version === '1.0.1' && (await status(stateDir)).state === 'confirmed');
  });

  it('keeps the last good configuration when a reload finds an invalid one', async () => {
    const { server, cfg, a } = await everySecond();
    writeFileSync(cfg, JSON.stringify({ ota_domain: server.url, device_id: 'dev1', check_interval: 'soon' }));
    a.process.kill('SIGHUP');
    await until('the error', () => a.output().includes('key "check_interval" is "soon"'));
    expect(a.output()).toContain('; keeping the last good configuration');
    const checks = a.output().split('Checking for updates').length;
    await until('checks to go on', () => a.output().split('Checking for updates').length > checks + 1);
  });
});
