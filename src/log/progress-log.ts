/**
 * Download progress for the system log (the journal under systemd): a line at every 10 % step and
 * at least one every 30 s, so a slow download shows it is alive without flooding the log.
 */

/** Which progress updates to log; `now` is a millisecond clock. */
export function progressLog(write: (message: string) => void, now: () => number, stepPercent = 10, everyMs = 30000) {
  let lastStep = -1;
  let lastAt = 0;
  return (received: number, total: number, bytesPerSecond: number): void => {
    const percent = total > 0 ? Math.floor((received * 100) / total) : 0;
    const step = Math.floor(percent / stepPercent);
    const t = now();
    if (step <= lastStep && t - lastAt < everyMs) return;
    lastStep = step;
    lastAt = t;
    const rate = bytesPerSecond > 0 ? ', ' + Math.round(bytesPerSecond / 1024) + ' KiB/s' : '';
    write('Downloaded ' + percent + '% (' + received + ' of ' + total + ' bytes' + rate + ')');
  };
}
