/**
 * systemd's service notifications (sd_notify(3)): when systemd started the agent with
 * `NOTIFY_SOCKET` set (`Type=notify`), it hears READY=1 once the agent runs, a STATUS= line, and
 * WATCHDOG=1 every half `WATCHDOG_USEC` while the event loop is alive (`WatchdogSec=`). Node
 * cannot send a datagram to a unix socket, so each message goes through systemd-notify(1), which
 * waits until systemd has read it; the units set `NotifyAccess=all` for it.
 */
import { childProcessModule } from './lazy-modules.js';
import type { Logger } from '../interfaces.js';
import { parseWhole } from '../../text/numbers.js';

/** Sends service notifications; every method does nothing when systemd is not listening. */
export interface ServiceNotifier {
  /** The service is up: READY=1 with a status line. */
  ready(status: string): void;
  /** A new status line for `systemctl status`. */
  status(text: string): void;
  /** The service is stopping: STOPPING=1; the watchdog stops. */
  stopping(): void;
}

/** The notifier for this process, from its environment. */
export function serviceNotifier(logger: Logger, env: NodeJS.ProcessEnv = process.env): ServiceNotifier {
  const socket = env.NOTIFY_SOCKET;
  let broken = false;
  const send = (...assignments: string[]) => {
    if (socket === undefined || socket === '' || broken) return;
    // --pid: attributed to this process (the unit's main one), not to the short-lived helper.
    childProcessModule().execFile('systemd-notify', ['--pid=' + process.pid, ...assignments], { env }, (e) => {
      if (e === null || broken) return;
      broken = true;
      logger.log('WARNING', 'Cannot notify systemd (systemd-notify ' + ((e as { code?: unknown }).code === 'ENOENT' ? 'is not installed' : 'failed') + '); readiness and watchdog messages stop');
    });
  };
  // The watchdog only when it is meant for this process (WATCHDOG_PID unset or ours).
  const usec = parseWhole(env.WATCHDOG_USEC ?? '');
  const ours = env.WATCHDOG_PID === undefined || env.WATCHDOG_PID === String(process.pid);
  let watchdog: NodeJS.Timeout | null = null;
  if (socket && usec > 0 && ours) {
    watchdog = setInterval(() => send('WATCHDOG=1'), Math.max(100, usec / 2000));
    watchdog.unref();
  }
  return {
    ready: (status) => send('READY=1', 'STATUS=' + status),
    status: (text) => send('STATUS=' + text),
    stopping: () => {
      if (watchdog) clearInterval(watchdog);
      send('STOPPING=1');
    },
  };
}
