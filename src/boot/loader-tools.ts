/**
 * What the U-Boot and GRUB selectors share: running the environment tool, RAUC's slot names
 * ("A"/"B" for slots a/b), and the booted slot read from the kernel command line as RAUC reads
 * it (`rauc.slot=A`, set by the boot loader's script).
 */
import { childProcessModule } from '../platform/node/lazy-modules.js';
import { nodeFileOps, readTextOrNull, type FileOps } from '../platform/node/file-ops.js';
import type { SlotName } from '../install/slots.js';

/** RAUC's boot name of a slot. */
export function bootname(slot: SlotName): string {
  return slot === 'a' ? 'A' : 'B';
}

/** The slot of a RAUC boot name, or null for any other name (a rescue system, say). */
export function slotOf(name: string | undefined): SlotName | null {
  return name === 'A' ? 'a' : name === 'B' ? 'b' : null;
}

/** Runs `program` with `args`, feeding it `input`; resolves to its standard output, rejects naming the program. */
export function runTool(program: string, args: string[], input = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = childProcessModule().spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e) => reject(new Error(program + ' could not run: ' + e.message)));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(program + ' exited with ' + code + ': ' + err.trim()))));
    // A tool that exits without reading its input closes the pipe (EPIPE): its exit code tells.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/** `name=value` lines (fw_printenv, grub-editenv list) as an object. */
export function parseEnv(text: string): Record<string, string> {
  const env: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}

/** The slot named by `rauc.slot=` on the kernel command line in file `path`, or null when there is none (or it cannot be read). */
export function cmdlineSlot(path: string, ops: FileOps = nodeFileOps): SlotName | null {
  const text = readTextOrNull(path, ops);
  if (text === null) return null;
  for (const word of text.split(/\s+/)) if (word.startsWith('rauc.slot=')) return slotOf(word.slice('rauc.slot='.length));
  return null;
}
