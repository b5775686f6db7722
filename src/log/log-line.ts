/** The system log line format of IoTaaP OS: `[time] [TYPE] - message`. */
import type { LogLevel } from '../platform/interfaces.js';
import { isoTime } from '../text/iso-time.js';

/** Formats one log line (UTC time to the second, no trailing newline). */
export function formatLogLine(time: Date, level: LogLevel, message: string): string {
  const iso = isoTime(time.getTime());
  return '[' + iso.slice(0, 10) + ' ' + iso.slice(11, 19) + '] [' + level + '] - ' + message;
}
