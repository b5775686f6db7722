/** Keeps secrets out of log lines, whoever writes them. */
import type { Logger } from '../platform/interfaces.js';

/** A logger that replaces each secret (of 4 characters or more) in messages by "***". */
export function redacting(logger: Logger, secrets: string[]): Logger {
  const hidden = secrets.filter((x) => x.length >= 4);
  return {
    log(level, message) {
      for (const secret of hidden) message = message.split(secret).join('***');
      logger.log(level, message);
    },
    flush: logger.flush ? () => logger.flush!() : undefined,
  };
}
