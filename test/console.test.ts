/**
 * The console's API without a browser: what it refuses (admin token, upload size, names, device
 * tokens) and the state it keeps in the release directory. test/console-browser.test.ts drives
 * the page itself.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startServer } from '../src/server/server.js';
import { CLI, freePort, image, onCleanup, runCli, tempDir, until } from './helpers/fixtures.js';
import { MOSQUITTO, mosquittoPub, mosquittoSub, startMosquitto } from './helpers/mosquitto.js';

const TOKEN = 'admin-token-for-tests-0001';
const admin = { Authorization: 'Bearer ' + TOKEN };

/** The console's JSON, loosely typed for assertions. */
type Json = any;
async function getJson(url: string): Promise<Json> {
  return (await fetch(url, { headers: admin })).json();
}

async function consoleServer(dir = tempDir(), mqttUrl?: string) {
  const server = await startServer({ dir, port: 0, console: { adminToken: TOKEN, maxUpload: 10_000, mqtt: mqttUrl }, deviceTokens: { 'dev-t': 'device-secret-1', kitchen: 'group-secret-1' } });
  onCleanup(() => server.close());
  return { dir, url: server.url, close: () => server.close() };
}

/** A raw HTTP exchange (fetch cannot send a chunked body of unknown size as simply). */
function send(url: string, method: string, headers: Record<string, string>, body?: Buffer | string, chunked = false): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, text }));
    });
    req.on('error', reject);
    if (body !== undefined && !chunked) req.setHeader('Content-Length', Buffer.byteLength(body));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

describe('the console refuses', () => {
  it('every API call without the admin token (401) or with a wrong one (403), but serves the page', async () => {
    const { url } = await consoleServer();
    const calls: [string, string, string?][] = [
      ['GET', '/console/api/state'],
      ['GET', '/console/api/events'],
      ['GET', '/console/api/devices/dev1'],
      ['POST', '/console/api/releases?device=dev1&version=1.0.3', 'firmware'],
      ['POST', '/console/api/flash', '{"device":"dev1"}'],
      ['POST', '/console/api/rollout', '{"group":"g","percent":50}'],
    ];
    for (const [method, path, body] of calls) {
      expect((await send(url + path, method, {}, body)).status, method + ' ' + path).toBe(401);
      expect((await send(url + path, method, { Authorization: 'Bearer wrong-token' }, body)).status, method + ' ' + path).toBe(403);
      // A cookie alone is not a credential.
      expect((await send(url + path, method, { Cookie: 'token=' + TOKEN }, body)).status, method + ' ' + path).toBe(401);
    }
    const page = await fetch(url + '/console/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
  });

  it('an upload over the limit, declared or streamed, and publishes nothing', async () => {
    const { url, dir } = await consoleServer();
    const path = '/console/api/releases?device=dev1&version=1.0.3';
    const declared = await send(url + path, 'POST', admin, image(10_001));
    expect(declared.status).toBe(413);
    expect(declared.text).toContain('exceeds the limit of 10000 bytes');
    const streamed = await send(url + path, 'POST', admin, image(30_000), true);
    expect(streamed.status).toBe(413);
    expect(existsSync(join(dir, 'v1/ota/device/latest/dev1'))).toBe(false);
    expect(readdirSync(join(dir, '.ota-console/uploads'))).toEqual([]);
    const fits = await send(url + path, 'POST', admin, image(10_000));
    expect(fits.status).toBe(201);
    expect(existsSync(join(dir, 'v1/ota/device/latest/dev1'))).toBe(true);
  });

  it('names that would leave the release directory, and never serves its own state', async () => {
    const { url, dir } = await consoleServer();
    expect((await send(url + '/console/api/releases?device=ok&version=1.0.3', 'POST', admin, image(100))).status).toBe(201);
    for (const target of ['device=../evil', 'device=..', 'group=a%2Fb', 'group=.hidden', 'device=%2Fetc%2Fpasswd']) {
      const r = await send(url + '/console/api/releases?' + target + '&version=1.0.3', 'POST', admin, image(100));
      expect(r.status, target).toBe(400);
      expect(r.text).toContain('may hold only letters, digits');
    }
    expect((await send(url + '/console/api/flash', 'POST', admin, '{"device":"../x"}')).status).toBe(400);
    expect((await send(url + '/console/api/rollout', 'POST', admin, '{"group":"../x","percent":5}')).status).toBe(400);
    expect(readdirSync(dir).sort()).toEqual(['.ota-console', 'firmware', 'v1']);
    expect(readdirSync(join(dir, 'v1/ota/device/latest'))).toEqual(['ok']);
    for (const path of ['/.ota-console/releases.json', '/v1/../.ota-console/releases.json', '/%2e%2e/etc/passwd', '/.ota-console/devices/']) {
      expect((await fetch(url + path)).status, path).toBe(404);
    }
  });

  it('a device report without its token or with a wrong one, and records it with the right one', async () => {
    const { url } = await consoleServer();
    const report = JSON.stringify({ stage: 'confirmed', version: '1.0.3' });
    const status = url + '/v1/ota/device/status/dev-t';
    expect((await send(status, 'POST', { 'Content-Type': 'application/json' }, report)).status).toBe(401);
    expect((await send(status, 'POST', { Authorization: 'Bearer guess' }, report)).status).toBe(401);
    // A check-in with a wrong token is served (the release files are public) but not believed.
    await fetch(url + '/v1/ota/device/latest/dev-t', { headers: { 'X-OTA-Version': '9.9.9', Authorization: 'Bearer guess' } });
    expect((await getJson(url + '/console/api/state')).devices).toEqual([]);
    expect((await send(status, 'POST', { Authorization: 'Bearer device-secret-1' }, report)).status).toBe(204);
    // An id that names a property of every object is just an id without a token.
    expect((await send(url + '/v1/ota/device/status/constructor', 'POST', {}, report)).status).toBe(204);
    // A group member reports with its group's token; the group's id cannot be borrowed without it.
    const member = url + '/v1/ota/device/status/cook-1';
    expect((await send(member, 'POST', {}, JSON.stringify({ stage: 'confirmed', version: '2.0.0', group_id: 'kitchen' }))).status).toBe(401);
    expect((await send(member, 'POST', { Authorization: 'Bearer group-secret-1' }, JSON.stringify({ stage: 'confirmed', version: '2.0.0', group_id: 'kitchen' }))).status).toBe(204);
    const devices: { id: string; version: string; state: string }[] = (await getJson(url + '/console/api/state')).devices;
    expect(devices.map((d) => [d.id, d.version, d.state])).toEqual([
      ['dev-t', '1.0.3', 'confirmed'],
      ['constructor', '1.0.3', 'confirmed'],
      ['cook-1', '2.0.0', 'confirmed'],
    ]);
  });
});

describe('the console', () => {
  it('shows the download progress of a device as the server sends its image', async () => {
    const { url } = await consoleServer();
    expect((await send(url + '/console/api/releases?device=d2&version=1.0.3', 'POST', admin, image(9000))).status).toBe(201);
    const manifest = (await (await fetch(url + '/v1/ota/device/latest/d2')).json()) as { url: string };
    await send(url + '/v1/ota/device/status/d2', 'POST', {}, JSON.stringify({ stage: 'downloading', version: '1.0.3', from: '1.0.0' }));
    await fetch(url + '/' + manifest.url, { headers: { 'X-OTA-Device': 'd2', Range: 'bytes=4000-' } }).then((r) => r.arrayBuffer());
    const d = await getJson(url + '/console/api/devices/d2');
    expect(d).toMatchObject({ state: 'downloading', version: '1.0.0', target: '1.0.3', progress: { received: 9000, total: 9000 } });
  });
});

// CI installs mosquitto, so there this test must run; elsewhere it is skipped without it.
(MOSQUITTO !== undefined || process.env.CI ? describe : describe.skip)('Flash', () => {
  it('publishes the trigger of a device or a group on the IoTaaP topics and records the answers', async () => {
    const broker = await startMosquitto();
    const { url } = await consoleServer(tempDir(), 'mqtt://acme@127.0.0.1:' + broker.port);
    // The boards' side: Mosquitto's own clients.
    const board = await mosquittoSub(broker.port, '/acme/+/+/update-trigger');
    const triggers = () => board.messages.map((m) => m.topic);
    // The console answers 202 once the broker acknowledged the trigger (its PUBACK).
    await until('the console to subscribe', async () => (await send(url + '/console/api/flash', 'POST', admin, '{"group":"kitchen"}')).status === 202);
    expect((await send(url + '/console/api/flash', 'POST', admin, '{"device":"cook-1"}')).status).toBe(202);
    await until('both triggers', () => triggers().includes('/acme/devices/cook-1/update-trigger'));
    expect(triggers()).toContain('/acme/groups/kitchen/update-trigger');
    expect(board.messages.every((m) => m.payload === 'flash')).toBe(true);
    await mosquittoPub(broker.port, '/acme/devices/cook-1/update-response', '{"code":200}');
    await mosquittoPub(broker.port, '/acme/devices/cook-1/update-response', 'not json');
    await mosquittoPub(broker.port, '/acme/devices/cook-1/update-response', '{"code":203}');
    await until('the answers', async () => (await getJson(url + '/console/api/devices/cook-1')).codes?.length === 2);
    expect((await getJson(url + '/console/api/devices/cook-1')).codes.map((c: { code: number }) => c.code)).toEqual([200, 203]);
  });

  it('answers 503 while the broker is down, and Flashes once it is up (reconnecting by itself)', async () => {
    const port = await freePort();
    const lines: string[] = [];
    const server = await startServer({ dir: tempDir(), port: 0, console: { adminToken: TOKEN, mqtt: 'mqtt://acme@127.0.0.1:' + port }, log: (l) => lines.push(l) });
    onCleanup(() => server.close());
    const down = await send(server.url + '/console/api/flash', 'POST', admin, '{"device":"cook-1"}');
    expect(down.status).toBe(503);
    expect(down.text).toContain('the MQTT broker mqtt://127.0.0.1:' + port + ' is not connected');
    await until('the refused connection to be logged', () => lines.some((l) => l.includes('console: MQTT mqtt://127.0.0.1:' + port + ': connection refused (is the server running, and are the host and port in --mqtt right?)')));
    await startMosquitto(port);
    const board = await mosquittoSub(port, '/acme/devices/cook-1/update-trigger');
    await until('the console to reconnect', async () => (await send(server.url + '/console/api/flash', 'POST', admin, '{"device":"cook-1"}')).status === 202, 10000);
    await until('the trigger', () => board.messages.length > 0);
    expect(lines).toContain('console: MQTT connected to mqtt://127.0.0.1:' + port);
  });

  it('needs a broker', async () => {
    const { url } = await consoleServer();
    const r = await send(url + '/console/api/flash', 'POST', admin, '{"device":"cook-1"}');
    expect(r.status).toBe(409);
    expect(r.text).toContain('start ota serve with --mqtt');
  });
});

describe('ota serve --console', () => {
  it('prints the console URL with a generated admin token, which opens the API', async () => {
    const child = spawn(process.execPath, [CLI, 'serve', '--dir', tempDir(), '--port', '0', '--quiet', '--console']);
    onCleanup(() => child.kill('SIGKILL'));
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    await until('the console line', () => out.includes('console at '));
    const m = /console at (\S+)\/console\/#token=(\S+)/.exec(out)!;
    expect(m[2]!.length).toBeGreaterThanOrEqual(24);
    expect((await fetch(m[1] + '/console/api/state', { headers: { Authorization: 'Bearer ' + m[2] } })).status).toBe(200);
    expect((await fetch(m[1] + '/console/api/state')).status).toBe(401);
  });

  it('refuses console options without --console, and a short admin token', async () => {
    const without = await runCli(['serve', '--dir', tempDir(), '--mqtt', 'mqtt://acme@127.0.0.1:1883']);
    expect(without.code).toBe(2);
    expect(without.stderr).toContain('--mqtt belongs to the console: add --console');
    const short = await runCli(['serve', '--dir', tempDir(), '--console', '--admin-token', 'abc']);
    expect(short.code).toBe(2);
    expect(short.stderr).toContain('--admin-token must be at least 16 characters');
    const broker = await runCli(['serve', '--dir', tempDir(), '--console', '--mqtt', 'http://x']);
    expect(broker.stderr).toContain('--mqtt must start with mqtt:// or mqtts://');
  });
});

describe('the console state', () => {
  it('two uploads of one image at once both publish it whole', async () => {
    const dir = tempDir();
    const server = await startServer({ dir, port: 0, console: { adminToken: TOKEN, maxUpload: 32 * 1024 * 1024 } });
    onCleanup(() => server.close());
    const fw = image(16 * 1024 * 1024, 31);
    const answers = await Promise.all(['dev1', 'dev2'].map((d) => send(server.url + '/console/api/releases?device=' + d + '&version=1.2.0', 'POST', admin, fw)));
    expect(answers.map((a) => a.status), answers.map((a) => a.text).join('\n')).toEqual([201, 201]);
    const sha = createHash('sha256').update(fw).digest('hex');
    for (const d of ['dev1', 'dev2']) expect(((await (await fetch(server.url + '/v1/ota/device/latest/' + d)).json()) as Json).sha256).toBe(sha);
    expect(createHash('sha256').update(readFileSync(join(dir, 'firmware', sha + '.bin'))).digest('hex')).toBe(sha);
    expect(readdirSync(join(dir, 'firmware'))).toEqual([sha + '.bin']);
  });

  it('lives in the release directory, written whole, and comes back after a restart', async () => {
    const dir = tempDir();
    const first = await consoleServer(dir);
    expect((await send(first.url + '/console/api/releases?group=fleet&version=1.1.0&rollout=30&notes=first%20wave', 'POST', admin, image(5000))).status).toBe(201);
    await fetch(first.url + '/v1/ota/group/latest/fleet', { headers: { 'X-OTA-Device': 'f1', 'X-OTA-Version': '1.0.0' } });
    await send(first.url + '/v1/ota/device/status/f1', 'POST', {}, JSON.stringify({ stage: 'failed', version: '1.1.0', code: 'HEALTH_CHECK', reason: 'exit 1', reverted: true, group_id: 'fleet' }));
    await first.close();
    const files = readdirSync(join(dir, '.ota-console'), { recursive: true }).map(String).sort();
    expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(files).toEqual(expect.arrayContaining(['devices/f1.json', 'releases.json', 'rollouts.json']));

    const again = await consoleServer(dir);
    const state = await getJson(again.url + '/console/api/state');
    expect(state.releases).toMatchObject([{ group: 'fleet', ver: '1.1.0', notes: 'first wave', rollout: 30, current: true }]);
    expect(state.devices).toMatchObject([{ id: 'f1', group: 'fleet', version: '1.0.0', state: 'reverted', lastError: { code: 'HEALTH_CHECK', reason: 'exit 1' } }]);
    expect(state.rollouts).toMatchObject([{ group: 'fleet', version: '1.1.0', percent: 30, threshold: 20 }]);
    const history = await getJson(again.url + '/console/api/devices/f1');
    expect(history.history).toMatchObject([{ stage: 'failed', version: '1.1.0', reverted: true }]);
  });

  it('names a damaged state file instead of starting with it', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, '.ota-console'));
    writeFileSync(join(dir, '.ota-console/rollouts.json'), '[{"group": "g", ');
    await expect(startServer({ dir, port: 0, console: { adminToken: TOKEN } })).rejects.toThrow(join(dir, '.ota-console/rollouts.json') + ' is not valid JSON');
  });
});
