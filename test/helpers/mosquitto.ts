/** A real Mosquitto broker on a free loopback port, and its command-line clients, for the MQTT tests. */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort, onCleanup, tempDir } from './fixtures.js';

export const MOSQUITTO = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((p) => spawnSync(p, ['-h']).error === undefined);

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    c.once('connect', () => (c.destroy(), resolve(true)));
    c.once('error', () => resolve(false));
  });
}

/**
 * Starts mosquitto on `port` (a free one by default); stopped after the test. With `refuseAll`,
 * anonymous clients are not allowed and no password file exists: every CONNECT is answered
 * "Not authorized".
 */
export async function startMosquitto(port?: number, refuseAll = false): Promise<{ port: number; stop: () => Promise<void> }> {
  if (!MOSQUITTO) throw new Error('mosquitto is not installed (.ci/run installs it)');
  const p = port ?? (await freePort());
  const dir = tempDir();
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${p} 127.0.0.1\nallow_anonymous ${!refuseAll}\npersistence false\nlog_dest none\n`);
  const child = spawn(MOSQUITTO, ['-c', conf], { stdio: 'ignore' });
  const stop = () => new Promise<void>((r) => (child.exitCode !== null ? r() : (child.once('exit', () => r()), child.kill('SIGTERM'))));
  onCleanup(stop);
  for (let i = 0; i < 200; i++) {
    if (await listening(p)) return { port: p, stop };
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('mosquitto did not start on port ' + p);
}

/** Debian's mosquitto-clients: the operator's or a board's side of a test, a client independent of ours. */
const SUB = '/usr/bin/mosquitto_sub';
const PUB = '/usr/bin/mosquitto_pub';

function clientArgs(port: number, cafile: string | undefined): string[] {
  if (!existsSync(SUB) || !existsSync(PUB)) throw new Error('mosquitto_sub/mosquitto_pub are not installed (.ci/run installs mosquitto-clients)');
  return ['-h', '127.0.0.1', '-p', String(port), ...(cafile ? ['--cafile', cafile] : [])];
}

/** What a subscriber received so far, in order. */
export interface Subscriber {
  messages: { topic: string; payload: string }[];
}

/**
 * `mosquitto_sub` on `topic` at QoS 1 until the test ends. Resolves once the broker granted the
 * subscription (its debug line "received SUBACK"); rejects when the client exits first, e.g.
 * because the broker is not listening yet.
 */
export function mosquittoSub(port: number, topic: string, cafile?: string): Promise<Subscriber> {
  // Its debug lines are block-buffered into a pipe: stdbuf (coreutils) has them written line by line.
  const child = spawn('stdbuf', ['-oL', SUB, ...clientArgs(port, cafile), '-t', topic, '-q', '1', '-v', '-d'], { stdio: ['ignore', 'pipe', 'pipe'] });
  onCleanup(() => new Promise<void>((r) => (child.exitCode !== null ? r() : (child.once('exit', () => r()), child.kill('SIGTERM')))));
  const received: Subscriber = { messages: [] };
  let text = '';
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      text += d.toString('utf8');
      let nl: number;
      while ((nl = text.indexOf('\n')) >= 0) {
        const line = text.slice(0, nl);
        text = text.slice(nl + 1);
        // With -d, the client's own debug lines ("Client … received SUBACK", "Subscribed …") come
        // between the messages, which -v prints as "<topic> <payload>".
        if (line.includes(' received SUBACK')) resolve(received);
        else if (line.indexOf('Client ') !== 0 && line.indexOf('Subscribed ') !== 0) {
          const space = line.indexOf(' ');
          received.messages.push({ topic: line.slice(0, space), payload: line.slice(space + 1) });
        }
      }
    });
    child.once('exit', (code) => reject(new Error('mosquitto_sub exited with ' + code + ' before subscribing')));
  });
}

/** `mosquitto_pub` of `payload` on `topic` at QoS 1; resolves once the broker acknowledged it. */
export function mosquittoPub(port: number, topic: string, payload: string, cafile?: string): Promise<void> {
  const child = spawn(PUB, [...clientArgs(port, cafile), '-t', topic, '-m', payload, '-q', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error('mosquitto_pub exited with ' + code + ': ' + err)))));
}
