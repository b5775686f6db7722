/** What a failed `ota` command prints and which exit code it returns. */
import { isOtaError } from '../errors.js';
import { systemErrorText } from '../platform/node/system-error.js';
import { EXIT } from './exit-codes.js';

/** An error that carries its exit code (from {@link EXIT}). */
export interface CliError extends Error {
  exit: number;
}

/** Makes an error that ends the command with `exit` and `message`. */
export function cliError(exit: number, message: string): CliError {
  const e = new Error(message) as CliError;
  e.exit = exit;
  return e;
}

/**
 * The message and exit code for anything a command threw: the project's own words (an OtaError's
 * message, the operating system's refusal described), never a raw errno or OpenSSL code.
 */
export function explain(e: unknown): { message: string; exit: number } {
  const exit = (e as Partial<CliError> | null)?.exit;
  if (typeof exit === 'number') return { message: (e as Error).message, exit };
  if (isOtaError(e)) {
    const code = e.code === 'CONFIG_INVALID' ? EXIT.CONFIG : e.code === 'BOOT_STATE' ? EXIT.STATE : e.status === 404 ? EXIT.NOT_FOUND : EXIT.FAILED;
    return { message: e.message, exit: code };
  }
  const system = systemErrorText(e);
  if (system !== null) return { message: system, exit: EXIT.FAILED };
  return { message: e instanceof Error ? e.message : String(e), exit: EXIT.FAILED };
}

/** Runs `step`; an operating-system error from it becomes `exit` with `what` and the refusal in words. */
export async function guard<T>(exit: number, what: string, step: () => T | Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (e) {
    // Directly from Node, or already worded by the platform (the original kept as its cause).
    const system = systemErrorText(e) ?? systemErrorText((e as { cause?: unknown } | null)?.cause);
    if (system === null) throw e;
    throw cliError(exit, what + ': ' + system);
  }
}
