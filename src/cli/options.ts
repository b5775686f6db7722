/**
 * The `ota` command line: each command declares its flags once, and both parsing and `--help`
 * come from that declaration, so the help text can never miss a flag the parser accepts.
 */
import { EXIT } from './exit-codes.js';

/** One flag of a command. */
export interface Flag {
  /** Without the dashes: "state-dir". */
  name: string;
  /** Placeholder of the value ("<dir>"); absent for a switch. */
  value?: string;
  /** One line for `--help`. */
  help: string;
  /** Shown in the usage line outside brackets. */
  required?: boolean;
}

/** Parsed flags: switch → true, flag with value → the string. */
export type Values = { [name: string]: string | true | undefined };

/** One `ota` command. */
export interface Command {
  /** The words after `ota`: ["device", "status"]. */
  words: string[];
  /** What it does, in one line. */
  summary: string;
  /** Positional arguments, for the usage line ("FILE|URL"); none when absent. */
  operands?: string;
  flags: Flag[];
  run(values: Values, operands: string[]): Promise<number>;
}

/** A mistake on the command line: printed with a pointer to `--help`, exit code 2. */
export interface UsageError extends Error {
  exit: number;
  command?: Command;
}

/** Throws a usage error for `command` (or for `ota` as a whole). */
export function usage(message: string, command?: Command): never {
  const e = new Error(message) as UsageError;
  e.exit = EXIT.USAGE;
  e.command = command;
  throw e;
}

const HELP: Flag = { name: 'help', help: 'show this help and exit' };

/**
 * Parses `args` for `command`: `--name value`, `--name=value`, switches, `-h`. Unknown flags,
 * missing values and stray operands are usage errors naming the flag.
 */
export function parseFlags(command: Command, args: string[]): { values: Values; operands: string[] } {
  const values: Values = {};
  const operands: string[] = [];
  const flags = command.flags.concat(HELP);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '-h') {
      values.help = true;
      continue;
    }
    if (!arg.startsWith('--') || arg === '--') {
      if (arg.startsWith('-') && arg !== '-' && arg !== '--') usage('unknown option ' + arg, command);
      operands.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const flag = flags.find((f) => f.name === name);
    if (!flag) usage('unknown option --' + name + ' for `ota ' + command.words.join(' ') + '`', command);
    if (flag.value === undefined) {
      if (eq >= 0) usage('--' + name + ' takes no value', command);
      values[name] = true;
      continue;
    }
    const value = eq >= 0 ? arg.slice(eq + 1) : args[++i];
    if (value === undefined || (eq < 0 && value.startsWith('--'))) usage('--' + name + ' needs a value ' + flag.value, command);
    values[name] = value;
  }
  if (values.help !== true) {
    for (const f of command.flags) if (f.required && values[f.name] === undefined) usage('--' + f.name + ' is required', command);
    if (command.operands === undefined && operands.length > 0) usage('unexpected argument ' + JSON.stringify(operands[0]), command);
  }
  return { values, operands };
}

function flagLabel(f: Flag): string {
  return '--' + f.name + (f.value ? ' ' + f.value : '');
}

/** The usage line of a command: required flags, then the optional ones in brackets. */
export function usageLine(command: Command): string {
  const parts = ['ota', ...command.words];
  for (const f of command.flags) parts.push(f.required ? flagLabel(f) : '[' + flagLabel(f) + ']');
  if (command.operands) parts.push(command.operands);
  return parts.join(' ');
}

/** `ota <command> --help`: usage, summary and one line per flag. */
export function helpText(command: Command): string {
  const flags = command.flags.concat(HELP);
  const width = Math.max(...flags.map((f) => flagLabel(f).length)) + 2;
  const lines = ['Usage: ' + usageLine(command), '', command.summary, '', 'Options:'];
  for (const f of flags) lines.push('  ' + flagLabel(f).padEnd(width) + f.help);
  lines.push('', 'Exit codes: `ota --help` lists them.');
  return lines.join('\n');
}
