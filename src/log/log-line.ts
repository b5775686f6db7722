/** The system log line format of IoTaaP OS: `[time] [TYPE] - message`. */
import type { LogLevel } from '../platform/interfaces.js';

function two(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

/** Formats one log line (UTC time, no trailing newline). */
export function formatLogLine(time: Date, level: LogLevel, message: string): string {
  const t =
    time.getUTCFullYear() + '-' + two(time.getUTCMonth() + 1) + '-' + two(time.getUTCDate()) + ' ' +
    two(time.getUTCHours()) + ':' + two(time.getUTCMinutes()) + ':' + two(time.getUTCSeconds());
  return '[' + t + '] [' + level + '] - ' + message;
}
