/**
 * Keeps secrets out of everything the agent writes or hands out: log lines, result messages and
 * error objects. A secret is masked in every form it travels in: as it is, URL-encoded (IoTaaP
 * puts the token in the download URL, so "+/=" become "%2B%2F%3D") and base64.
 */
import { otaError, type OtaError } from '../errors.js';
import type { Logger } from '../platform/interfaces.js';

/** Replaces every secret in a text by "***". */
export type Mask = (text: string) => string;

/** The forms a secret can take in text. */
function forms(secret: string): string[] {
  const out = [secret, encodeURIComponent(secret), encodeURI(secret)];
  try {
    out.push(btoa(secret));
  } catch (e) {
    // not Latin-1: it cannot be base64-encoded as text, so it never is
  }
  return out;
}

/** A mask for `secrets` (those of 4 characters or more: shorter ones would mask ordinary words). */
export function masker(secrets: string[]): Mask {
  const hidden: string[] = [];
  for (const s of secrets) if (s.length >= 4) for (const f of forms(s)) if (hidden.indexOf(f) < 0) hidden.push(f);
  // Longest first, so a form containing another is masked whole.
  hidden.sort((a, b) => b.length - a.length);
  return (text) => {
    for (const f of hidden) text = text.split(f).join('***');
    return text;
  };
}

/** A logger that masks secrets in messages, whoever writes them. */
export function redacting(logger: Logger, mask: Mask): Logger {
  return {
    log(level, message) {
      logger.log(level, mask(message));
    },
    flush: logger.flush ? () => logger.flush!() : undefined,
  };
}

/**
 * The error as the application may see it: the message masked, and the cause (an HTTP client's
 * error carries the request, Authorization header included) reduced to its masked message.
 */
export function maskedError(e: OtaError, mask: Mask): OtaError {
  const cause = (e as { cause?: unknown }).cause;
  return otaError(e.code, e.stage, mask(e.message), {
    retryable: e.retryable,
    status: e.status,
    retryAfterMs: e.retryAfterMs,
    cause: cause === undefined ? undefined : new Error(mask(cause instanceof Error ? cause.message : String(cause))),
  });
}
