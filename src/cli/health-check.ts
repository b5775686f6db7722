/** Runs the configured health check of a slot booted on trial. */
import { childProcessModule } from '../platform/node/lazy-modules.js';
import { setLongTimeout } from '../schedule/timer-clock.js';

/** The verdict of a health check; `reason` says why it failed. */
export type HealthVerdict = { ok: true } | { ok: false; reason: string };

/**
 * Runs `command` with `sh -c`, with OTA_SLOT_PATH and OTA_VERSION in its environment. Exit 0 is
 * healthy; anything else, or running longer than `timeoutSec`, is not. An empty command is healthy.
 */
export function runHealthCheck(command: string, env: { OTA_SLOT_PATH: string; OTA_VERSION: string }, timeoutSec: number): Promise<HealthVerdict> {
  if (command === '') return Promise.resolve({ ok: true });
  return new Promise((resolve) => {
    // Its own process group, so that the timeout ends the whole script: killing `sh` alone left a
    // child such as `sleep` (or curl) running, holding the output open, and the check past its timeout.
    const child = childProcessModule().spawn('sh', ['-c', command], { env: Object.assign({}, process.env, env), stdio: ['ignore', 'inherit', 'pipe'], detached: true });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-500);
      process.stderr.write(d);
    });
    const killGroup = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch (e) {
        // the group is gone already
      }
    };
    // Out of the terminal's group now, so Ctrl-C no longer reaches it: it ends when the agent exits.
    process.once('exit', killGroup);
    const cancelTimer = setLongTimeout(killGroup, timeoutSec * 1000);
    child.on('error', (e) => {
      cancelTimer();
      process.removeListener('exit', killGroup);
      resolve({ ok: false, reason: 'health check could not start: ' + e.message });
    });
    child.on('close', (code, signal) => {
      cancelTimer();
      process.removeListener('exit', killGroup);
      if (code === 0) return resolve({ ok: true });
      const how = signal ? 'was killed (' + signal + (signal === 'SIGKILL' ? ', over ' + timeoutSec + ' s' : '') + ')' : 'exited with code ' + code;
      const tail = stderr.trim().split('\n').pop();
      resolve({ ok: false, reason: 'health check ' + JSON.stringify(command) + ' ' + how + (tail ? ': ' + tail : '') });
    });
  });
}
