/** Runs the configured health check of a slot booted on trial. */
import { runShellCommand, type CommandOutcome } from '../platform/node/shell-command.js';

/**
 * Runs `command` with `sh -c`, with OTA_SLOT_PATH and OTA_VERSION in its environment. Exit 0 is
 * healthy; anything else, or running longer than `timeoutSec`, is not. An empty command is healthy.
 */
export function runHealthCheck(command: string, env: { OTA_SLOT_PATH: string; OTA_VERSION: string }, timeoutSec: number): Promise<CommandOutcome> {
  if (command === '') return Promise.resolve({ ok: true });
  return runShellCommand('health check', command, env, timeoutSec);
}
