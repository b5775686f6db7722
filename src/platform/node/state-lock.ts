/**
 * One agent per state directory. `<dir>/agent.pid` names the process that owns the directory:
 * its pid and the start time the kernel gives it (`/proc/<pid>/stat`), so that neither a crashed
 * agent nor an unrelated process that later got the same pid keeps the directory locked.
 */
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { otaError } from '../../errors.js';
import { parseWhole } from '../../text/numbers.js';
import { readTextOrNull } from './file-ops.js';

/** Name of the lock file in the state directory. */
export const LOCK_FILE = 'agent.pid';

/** Fields 3 on of /proc/<pid>/stat (state first, start time at index 19), or null where there is no /proc. */
function procStat(pid: number): string[] | null {
  const stat = readTextOrNull('/proc/' + pid + '/stat');
  if (stat === null) return null;
  // The command name (field 2) is in parentheses and may hold spaces: count fields after its end.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** The process's start time in clock ticks since boot, or '' where there is no /proc. */
function startTime(pid: number): string {
  const f = procStat(pid);
  return f === null ? '' : (f[19] ?? '');
}

function alive(pid: number, started: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const f = procStat(pid);
  if (f === null) return true; // no /proc: the pid is all there is to go by
  // A zombie has exited (its parent has not collected it yet); another start time is another process.
  return f[0] !== 'Z' && (started === '' || f[19] === started);
}

/** The owner a lock file names, or null when it names none (empty, torn, or not a pid). */
function owner(text: string): { pid: number; started: string } | null {
  const [pid, started] = text.trim().split(' ');
  const n = parseWhole(pid ?? '');
  return n > 0 ? { pid: n, started: started ?? '' } : null;
}

/** The pid of the live agent holding `dir`, or null when none does (for `ota device status`). */
export function runningAgent(dir: string): number | null {
  const text = readTextOrNull(join(dir, LOCK_FILE));
  if (text === null) return null;
  const o = owner(text);
  return o !== null && alive(o.pid, o.started) ? o.pid : null;
}

/**
 * Takes the state directory `dir` for this process. Throws an OtaError `AGENT_RUNNING` naming
 * the pid when another live agent holds it; takes over a lock whose process is gone. Returns the
 * function that releases it (also safe to skip: the lock dies with the process).
 */
export function lockStateDir(dir: string): () => void {
  const path = join(dir, LOCK_FILE);
  mkdirSync(dir, { recursive: true });
  const mine = process.pid + ' ' + startTime(process.pid) + '\n';
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      try {
        writeSync(fd, mine);
      } finally {
        closeSync(fd);
      }
      const release = () => {
        if (readTextOrNull(path) === mine) rmSync(path, { force: true });
      };
      // Gone with the process when it exits normally; a crash leaves a lock the next agent takes over.
      process.once('exit', release);
      return release;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const text = readTextOrNull(path);
    if (text === null) continue; // released meanwhile
    const o = owner(text);
    if (o === null && attempt === 0) {
      // Created but not written yet by another agent starting now: look again.
      continue;
    }
    if (o !== null && o.pid !== process.pid && alive(o.pid, o.started)) {
      throw otaError('AGENT_RUNNING', 'config', 'another ota agent runs on the state directory ' + dir + ' (pid ' + o.pid + '); only one may use it at a time');
    }
    // Stale: moved aside under a name of our own, so that two agents taking it over do not both win.
    const aside = path + '.stale.' + process.pid;
    try {
      renameSync(path, aside);
    } catch (e) {
      continue;
    }
    // What was moved is another agent's fresh lock when it changed since we read it: give it back.
    if (readFileSync(aside, 'utf8') === text) rmSync(aside, { force: true });
    else renameSync(aside, path);
  }
  throw otaError('AGENT_RUNNING', 'config', 'the state directory ' + dir + ' is being locked and unlocked by other agents; try again');
}
