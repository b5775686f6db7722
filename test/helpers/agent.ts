/** The long-running `ota device` agent as a child process, stopped after the test. */
import { spawn } from 'node:child_process';
import { CLI, onCleanup } from './fixtures.js';

/** `ota device` running until the test ends; `output()` is what it logged so far. */
export function agent(cfg: string, stateDir: string) {
  const p = spawn(process.execPath, [CLI, 'device', '--config', cfg, '--state-dir', stateDir]);
  let output = '';
  p.stdout.on('data', (d) => (output += d));
  p.stderr.on('data', (d) => (output += d));
  onCleanup(() => new Promise((r) => (p.exitCode !== null ? r(null) : (p.once('exit', r), p.kill('SIGTERM')))));
  return { process: p, output: () => output };
}
