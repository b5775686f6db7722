/**
 * The IoTaaP OTA API as IoTaaP OS's devices use it, rebuilt from iotaap/iotaap-os (read with
 * `fetch`, not copied): `src/ota/ota_module.cpp` (checkUpdate, otaUpdate) and
 * `src/system/definitions.h` (OTA_CHECK_* and OTA_DOWNLOAD_* URIs). The server itself is not
 * public; this is what the device code expects of it:
 * - `GET /v1/ota/device/latest/{device_id}` (or `/group/latest/{group_id}`), no credentials:
 *   200 `{"ver": "…"}`; 404 when nothing was uploaded; anything else is "Cannot check for updates".
 * - `GET /v1/ota/device/download/{device_id}{device_token}` (or the group's): the raw image with a
 *   Content-Length (ESP32 HTTPUpdate needs it), no checksum. Range is not part of what IoTaaP OS
 *   uses, so by default it is ignored (whole body, 200), as a server that never heard of it does.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenLocal } from './fixtures.js';

export interface IotaapUpload {
  ver: string;
  image: Buffer;
  /** device_token or group_token: the download URL is the id and this token, concatenated. */
  token: string;
}

export async function iotaapServer(opts: { ranges?: boolean } = {}) {
  const s = {
    url: '',
    devices: {} as Record<string, IotaapUpload>,
    groups: {} as Record<string, IotaapUpload>,
    /** Every request: "METHOD path". */
    requests: [] as string[],
    /** Headers of every request, in order. */
    headers: [] as IncomingMessage['headers'][],
    /** The console's upload (POST /v1/ota/device with firmware, device, token, version). */
    upload(kind: 'device' | 'group', id: string, ver: string, image: Buffer, token: string) {
      (kind === 'device' ? s.devices : s.groups)[id] = { ver, image, token };
    },
  };
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = decodeURIComponent(new URL(req.url!, s.url).pathname);
    s.requests.push(req.method + ' ' + path);
    s.headers.push(req.headers);
    const m = /^\/v1\/ota\/(device|group)\/(latest|download)\/(.+)$/.exec(path);
    if (!m || (req.method !== 'GET' && req.method !== 'HEAD')) return res.writeHead(404).end();
    const table = m[1] === 'device' ? s.devices : s.groups;
    if (m[2] === 'latest') {
      const u = table[m[3]!];
      if (!u) return res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"message":"No firmware"}');
      return res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ ver: u.ver }));
    }
    const id = Object.keys(table).find((k) => k + table[k]!.token === m[3]);
    if (id === undefined) return res.writeHead(404).end();
    const image = table[id]!.image;
    const r = opts.ranges ? /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '') : null;
    const start = r ? Number(r[1]) : 0;
    const end = r && r[2] !== '' ? Math.min(Number(r[2]), image.length - 1) : image.length - 1;
    if (r && start >= image.length) return res.writeHead(416, { 'Content-Range': 'bytes */' + image.length }).end();
    res.writeHead(r ? 206 : 200, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': end - start + 1,
      ...(r ? { 'Content-Range': 'bytes ' + start + '-' + end + '/' + image.length } : {}),
    });
    res.end(req.method === 'HEAD' ? undefined : image.subarray(start, end + 1));
  };
  s.url = await listenLocal(createServer(handle));
  return s;
}
