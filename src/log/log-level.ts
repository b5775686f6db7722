/** Log levels in order of importance, and a logger that drops the lines below a level. */
import type { Logger, LogLevel } from '../platform/interfaces.js';

/** From least to most important. */
export const LOG_LEVELS: string[] = ['DEBUG', 'INFO', 'WARNING', 'ERROR'];

/** Passes on the lines of `least` and above (`log_level` in default.cfg, `--verbose` for DEBUG). */
export function atLevel(logger: Logger, least: LogLevel): Logger {
  const floor = LOG_LEVELS.indexOf(least);
  return {
    log(level, message) {
      if (LOG_LEVELS.indexOf(level) >= floor) logger.log(level, message);
    },
    flush: logger.flush ? () => logger.flush!() : undefined,
  };
}
