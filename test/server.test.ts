/** `ota serve` over real sockets: ranges, manifests, reports, path safety. */
import { request } from 'node:http';
import { relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseRange } from '../src/platform/node/byte-range.js';
import { image, releaseDir, serve } from './helpers/fixtures.js';

function get(url: string, headers: Record<string, string> = {}, method = 'GET', body?: string) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('ota serve', () => {
  it('serves manifests and images with byte ranges', async () => {
    const fw = image(10_000, 2);
    const { dir, manifest } = await releaseDir('1.0.3', fw);
    const server = await serve(dir);
    const m = await get(server.url + '/v1/ota/device/latest/dev1');
    expect(m.status).toBe(200);
    expect(m.headers['content-type']).toBe('application/json');
    expect(JSON.parse(m.body.toString())).toMatchObject({ ver: '1.0.3', size: 10_000, sha256: manifest.sha256, url: 'firmware/' + manifest.sha256 + '.bin' });
    const img = server.url + '/' + manifest.url;
    expect((await get(img)).body).toEqual(fw);
    const part = await get(img, { Range: 'bytes=100-199' });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe('bytes 100-199/10000');
    expect(part.body).toEqual(fw.subarray(100, 200));
    expect((await get(img, { Range: 'bytes=9990-' })).body).toEqual(fw.subarray(9990));
    expect((await get(img, { Range: 'bytes=-10' })).body).toEqual(fw.subarray(9990));
    const beyond = await get(img, { Range: 'bytes=10000-' });
    expect(beyond.status).toBe(416);
    expect(beyond.headers['content-range']).toBe('bytes */10000');
    expect((await get(server.url + '/v1/ota/device/latest/nobody')).status).toBe(404);
    expect((await get(server.url + '/../../etc/passwd')).status).toBe(404);
    expect((await get(server.url + '/%2e%2e/%2e%2e/etc/passwd')).status).toBe(404);
  });

  it('serves a release directory given as a relative path with a trailing slash (issue 13)', async () => {
    const { dir, manifest } = await releaseDir('1.0.3', image(1000, 3));
    const server = await serve(relative(process.cwd(), dir) + '/');
    expect((await get(server.url + '/v1/ota/device/latest/dev1')).status).toBe(200);
    expect((await get(server.url + '/' + manifest.url)).status).toBe(200);
    expect((await get(server.url + '/%2e%2e/%2e%2e/etc/passwd')).status).toBe(404);
  });

  it('answers in JSON that caches must not keep (Cache-Control: no-store), as the console does', async () => {
    // A proxy or browser replaying "no firmware" after a release was published, or an old report list, would mislead.
    const server = await serve((await releaseDir('1.0.0', image(100))).dir);
    const none = await get(server.url + '/v1/ota/device/latest/nobody');
    expect(none.status).toBe(404);
    expect(none.headers['content-type']).toBe('application/json');
    expect(none.headers['cache-control']).toBe('no-store');
    expect((await get(server.url + '/v1/ota/device/status/dev9')).headers['cache-control']).toBe('no-store');
  });

  it('records status reports', async () => {
    const server = await serve((await releaseDir('1.0.0', image(100))).dir);
    const post = (body: string) => get(server.url + '/v1/ota/device/status/dev9', { 'Content-Type': 'application/json' }, 'POST', body);
    expect((await post('{"stage":"installed","version":"1.0.0"}')).status).toBe(204);
    expect((await post('not json')).status).toBe(400);
    const list = await get(server.url + '/v1/ota/device/status/dev9');
    expect(JSON.parse(list.body.toString())).toEqual([{ stage: 'installed', version: '1.0.0' }]);
  });

  it('parses Range headers', () => {
    expect(parseRange('bytes=0-', 10)).toEqual({ start: 0, end: 9 });
    expect(parseRange('bytes=2-4', 10)).toEqual({ start: 2, end: 4 });
    expect(parseRange('bytes=5-100', 10)).toEqual({ start: 5, end: 9 });
    expect(parseRange('bytes=-3', 10)).toEqual({ start: 7, end: 9 });
    expect(parseRange('bytes=10-', 10)).toBe('unsatisfiable');
    expect(parseRange('bytes=4-2', 10)).toBe('unsatisfiable');
    expect(parseRange('bytes=0-1,3-4', 10)).toBeNull();
    expect(parseRange('items=0-1', 10)).toBeNull();
    expect(parseRange('bytes=a-b', 10)).toBeNull();
    expect(parseRange(undefined, 10)).toBeNull();
  });
});
