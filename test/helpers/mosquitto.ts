/** A real Mosquitto broker on a free loopback port, for the MQTT trigger tests. */
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
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
