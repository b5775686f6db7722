/** Runs a configured shell command (health check, reboot) with a bounded wait. */
import { childProcessModule } from './lazy-modules.js';
import { setLongTimeout } from '../../schedule/timer-clock.js';

/** How a command ended: `ok` on exit 0; else `reason` says why, naming `what` and the command. */
export type CommandOutcome = { ok: true } | { ok: false; reason: string };

/**
 * Runs `command` with `sh -c`, `env` added to the agent's environment, and waits for it at most
 * `timeoutSec`: then the command and everything it started are killed. Never rejects. `what`
 * names the command's setting in the reason (e.g. `health check`, `reboot_command`).
 */
export function runShellCommand(what: string, command: string, env: Record<string, string>, timeoutSec: number): Promise<CommandOutcome> {
  return new Promise((resolve) => {
    // Its own process group, so that the timeout ends the whole script: killing `sh` alone left a
    // child such as `sleep` (or curl) running, holding the output open, and the wait past its timeout.
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
      resolve({ ok: false, reason: what + ' could not start: ' + e.message });
    });
    child.on('close', (code, signal) => {
      cancelTimer();
      process.removeListener('exit', killGroup);
      if (code === 0) return resolve({ ok: true });
      const how = signal ? 'was killed (' + signal + (signal === 'SIGKILL' ? ', over ' + timeoutSec + ' s' : '') + ')' : 'exited with code ' + code;
      const tail = stderr.trim().split('\n').pop();
      resolve({ ok: false, reason: what + ' ' + JSON.stringify(command) + ' ' + how + (tail ? ': ' + tail : '') });
    });
  });
}
