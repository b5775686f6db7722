/** The agent commands' hold on their state directory, as an exit code when another agent has it. */
import { isOtaError } from '../errors.js';
import { lockStateDir } from '../platform/node/state-lock.js';
import { cliError } from './cli-error.js';
import { EXIT } from './exit-codes.js';

/** Takes `stateDir` for this process until it exits; another live agent there is EXIT.LOCKED, naming its pid. */
export function lockAgent(stateDir: string): void {
  try {
    lockStateDir(stateDir);
  } catch (e) {
    if (isOtaError(e) && e.code === 'AGENT_RUNNING') throw cliError(EXIT.LOCKED, e.message);
    throw e;
  }
}
