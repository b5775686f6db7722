/**
 * Issue 13, plain-HTTP guard: the host of a URL is the one the URL parser resolves (userinfo and
 * look-alike hosts do not pass as local), and every hop is checked, redirects included, for
 * checks (axios) and image reads (the fixed-buffer reader): no HTTPS to HTTP, no other schemes.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/config.js';
import { nodeTransport } from '../src/platform/node/transport.js';
import type { Transport } from '../src/platform/interfaces.js';
import { faultServer } from './helpers/fault-server.js';
import { device, image, listenLocal, manifestFor, testUpdater } from './helpers/fixtures.js';
import { testCa } from './helpers/test-ca.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const redirectTo = (location: string): Handler => (_req, res) => res.writeHead(302, { Location: location }).end();

/** Both ways a transport fetches: `request` (axios) and `stream` (the image reader). */
function fetchBoth(t: Transport, url: string): Promise<unknown>[] {
  return [
    t.request({ url }).then(() => null, (e: unknown) => e),
    t.stream({ url }, { onResponse: () => false, onData: () => false }).then(() => null, (e: unknown) => e),
  ];
}

describe('plain-HTTP guard (issue 13)', () => {
  it('reads the host as the URL parser does: userinfo and 127.<name> are not this machine', async () => {
    for (const domain of ['http://localhost:80@evil.example', 'http://127.evil.example', 'http://127.0.0.1.evil.example:8080']) {
      expect(() => parseConfig(JSON.stringify({ device_id: 'd', ota_domain: domain })), domain).toThrow('is plain HTTP to another machine');
    }
    // A manifest naming such an image URL is refused before any connection.
    const data = image(5000);
    const server = await faultServer(Object.assign(await manifestFor(data), { url: 'http://localhost:80@evil.example/fw.bin' }), data);
    const { updater } = testUpdater({ ota_domain: server.url, device_id: 'dev1' }, await device('1.0.0'));
    const r = await updater.checkForUpdates();
    expect(r.status === 'failed' && r.error.code, JSON.stringify(r)).toBe('INSECURE_TRANSPORT');
  });

  it('refuses a redirect from HTTPS to plain HTTP, even to this machine', async () => {
    const tls = testCa();
    const plain = await listenLocal(createHttpServer((_req, res) => res.writeHead(200, { 'Content-Length': 2 }).end('ok')));
    const secure = await listenLocal(createHttpsServer({ cert: tls.cert, key: tls.key }, redirectTo(plain + '/x')));
    const t = nodeTransport({ caFile: tls.ca });
    for (const e of await Promise.all(fetchBoth(t, secure.replace('http:', 'https:') + '/latest'))) {
      expect(e).toMatchObject({ code: 'INSECURE_TRANSPORT', message: expect.stringContaining('leaves HTTPS for plain HTTP') });
    }
  });

  it('refuses a redirect to another scheme, and to plain HTTP on another machine', async () => {
    const t = nodeTransport();
    for (const [target, why] of [
      ['gopher://127.0.0.1:70/1', 'only http and https are followed'],
      ['http://192.0.2.7/fw.bin', 'plain HTTP to another machine'],
      ['http://localhost:80@192.0.2.7/fw.bin', 'plain HTTP to another machine'],
    ]) {
      const url = await listenLocal(createHttpServer(redirectTo(target!)));
      for (const e of await Promise.all(fetchBoth(t, url + '/latest'))) {
        expect(e, target).toMatchObject({ code: 'INSECURE_TRANSPORT', message: expect.stringContaining(why!) });
      }
    }
  });
});
