/**
 * Which process runs the agent of a state directory (`agent.pid`), for `ota device status`.
 * The file names a pid; the agent counts as running only while that process exists, so a crashed
 * agent's file never reads as a live one.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseWhole } from '../../text/numbers.js';

const FILE = 'agent.pid';

/** Records this process as the agent of `stateDir` until it exits. */
export function recordAgent(stateDir: string): void {
  const path = join(stateDir, FILE);
  writeFileSync(path, String(process.pid) + '\n');
  process.once('exit', () => rmSync(path, { force: true }));
}

/** The pid of the running agent of `stateDir`, or null when none runs. */
export function runningAgent(stateDir: string): number | null {
  let pid: number;
  try {
    pid = parseWhole(readFileSync(join(stateDir, FILE), 'utf8').trim());
  } catch {
    return null;
  }
  if (pid <= 0) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (e) {
    // EPERM: the process exists but belongs to another user.
    return (e as NodeJS.ErrnoException).code === 'EPERM' ? pid : null;
  }
}
