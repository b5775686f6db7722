/**
 * The exit codes of every `ota` command, in one place: `ota --help` prints this table, the README
 * holds the same table (test/cli.test.ts compares them), and every command exits through it, so a
 * script or a supervisor can tell outcomes apart without reading the text.
 */
import { REBOOT_EXIT_CODE } from '../platform/node/platform.js';

/** Exit codes by name. */
export const EXIT = {
  OK: 0,
  FAILED: 1,
  USAGE: 2,
  CONFIG: 3,
  NOT_FOUND: 4,
  REVERTED: 5,
  STATE: 6,
  LOCKED: 7,
  UPDATE_AVAILABLE: 10,
  REBOOT: REBOOT_EXIT_CODE,
} as const;

/** A name of {@link EXIT}. */
export type ExitName = keyof typeof EXIT;

/** What each exit code means. */
const EXIT_MEANING: { [K in ExitName]: string } = {
  OK: 'done: up to date, updated and confirmed, or the command did what it was asked',
  FAILED: 'the update or the operation failed; the message says what failed and what happens next',
  USAGE: 'a mistake on the command line (unknown command or option, missing or malformed value)',
  CONFIG: 'the configuration, or a file it or the command line names (image, key, certificate, release directory), is missing, unreadable or invalid',
  NOT_FOUND: "the server has no manifest at this device's own URL (HTTP 404): check device_id and ota_domain, or publish a release",
  REVERTED: 'the new version failed its trial boot; the previous version runs again',
  STATE: 'the state directory holds no device, or cannot be read or written',
  LOCKED: 'another agent holds the state directory',
  UPDATE_AVAILABLE: '`ota device check`: a newer release would be installed',
  REBOOT: 'a reboot into the other slot is due: the supervisor restarts the agent (`ota run`, the default reboot)',
};

/** The table as text, for `ota --help`. */
export function exitCodeTable(): string {
  const names = Object.keys(EXIT) as ExitName[];
  return names.map((n) => '  ' + String(EXIT[n]).padStart(2) + '  ' + n.padEnd(17) + EXIT_MEANING[n]).join('\n');
}
