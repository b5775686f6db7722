// The floor of an update's memory in Node: only its irreducible work, no ota-client code. An HTTP
// GET on a bare socket read into one fixed 256 KiB buffer (net's `onread`), zlib's CRC-32 of
// each 64 KiB chunk, a streaming SHA-256, each read written into a file (positioned fs.write, the
// socket paused meanwhile), fsync. Prints {"hwm": peak RSS in KiB (VmHWM), "sha256": ...}.
// Usage: node floor-client.cjs <url> <target file> [lean]; `lean` first sets what the `ota`
// process sets at run time (src/cli/lean-heap.ts): Sparkplug and TurboFan off, the young
// generation kept at its first size. Run by bench/floor.mjs.
const net = require('node:net');
const fs = require('node:fs');
const zlib = require('node:zlib');
const crypto = require('node:crypto');

const [url, target, lean] = process.argv.slice(2);
if (lean === 'lean') {
  const v8 = require('node:v8');
  for (const flag of ['--semi-space-growth-factor=1', '--no-sparkplug', '--no-turbofan']) v8.setFlagsFromString(flag);
}
const { hostname, port, pathname } = new URL(url);
const CHUNK = 65536;
const buffer = Buffer.allocUnsafe(256 * 1024);
const carry = Buffer.allocUnsafe(CHUNK); // a chunk split between two reads
let carried = 0;
const crcs = [];
const hash = crypto.createHash('sha256');
const fd = fs.openSync(target, 'w');
let head = '';
let written = 0;

function chunk(c) {
  crcs.push(zlib.crc32(c));
  hash.update(c);
}

function body(d) {
  let at = 0;
  if (carried > 0) {
    at = Math.min(CHUNK - carried, d.length);
    d.copy(carry, carried, 0, at);
    carried += at;
    if (carried === CHUNK) {
      chunk(carry);
      carried = 0;
    }
  }
  for (; d.length - at >= CHUNK; at += CHUNK) chunk(d.subarray(at, at + CHUNK));
  if (at < d.length) {
    d.copy(carry, 0, at);
    carried = d.length - at;
  }
  socket.pause();
  fs.write(fd, d, 0, d.length, written, (e) => {
    if (e) throw e;
    socket.resume();
  });
  written += d.length;
}

const socket = net.connect(
  {
    host: hostname,
    port: Number(port),
    onread: {
      buffer,
      callback(n, b) {
        let d = b.subarray(0, n);
        if (head !== null) {
          head += d.toString('latin1');
          const end = head.indexOf('\r\n\r\n');
          if (end < 0) return;
          d = d.subarray(d.length - (head.length - end - 4));
          head = null;
        }
        if (d.length > 0) body(d);
      },
    },
  },
  () => socket.write('GET ' + pathname + ' HTTP/1.1\r\nHost: ' + hostname + '\r\nConnection: close\r\n\r\n'),
);
socket.on('end', function finish() {
  if (socket.isPaused()) return setImmediate(finish); // the last write is still going
  if (carried > 0) chunk(carry.subarray(0, carried));
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  const hwm = Number(/VmHWM:\s*(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]);
  console.log(JSON.stringify({ hwm, sha256: hash.digest('hex'), chunks: crcs.length }));
});
