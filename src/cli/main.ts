/** The `ota` command: publish and serve releases, and run or operate a device's agent. */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultSettings } from '../config/config.js';
import { parseDuration } from '../config/durations.js';
import { parseWhole } from '../text/numbers.js';
import type { Audience } from '../server/release-store.js';
import { cliError, explain, guard } from './cli-error.js';
import { checkDevice, deviceStatus, initDeviceLocked, installOnDevice, markDevice, runDevice } from './device.js';
import { EXIT, exitCodeTable } from './exit-codes.js';
import { helpText, parseFlags, usage, usageLine, type Command, type Flag, type UsageError, type Values } from './options.js';
import { giveConsent } from '../check/consent.js';
import { fileState } from '../platform/node/file-state.js';
import { compilers } from './jit.js';

// The release server (node:http, node:https), key generation and `ota run` are imported by their
// commands: the device agent, often started from cron or a timer on a small board, loads none.

function text(v: Values, name: string): string | undefined {
  const x = v[name];
  return typeof x === 'string' ? x : undefined;
}

/** A whole number from `min` to `max` given for `--name`. */
function whole(v: Values, name: string, min: number, max: number): number | undefined {
  const s = text(v, name);
  if (s === undefined) return undefined;
  const n = parseWhole(s);
  if (n < min || n > max) usage('--' + name + ' must be a whole number from ' + min + ' to ' + max + ' (got ' + JSON.stringify(s) + ')');
  return n;
}

/** `--expires`: a duration from now ("30d", "12h") or an ISO time. */
function expiry(v: string | undefined): Date | undefined {
  if (v === undefined) return undefined;
  const seconds = parseDuration(v);
  const at = isNaN(seconds) ? Date.parse(v) : Date.now() + seconds * 1000;
  if (isNaN(at)) usage('--expires takes a duration such as "30d" or an ISO time');
  return new Date(at);
}

/** Reads a file named on the command line; a missing or unreadable one is a CONFIG error naming the flag. */
function readInput(flag: string, path: string): Promise<string> {
  return guard(EXIT.CONFIG, '--' + flag, () => readFileSync(path, 'utf8'));
}

function printJson(value: unknown): void {
  console.log(JSON.stringify(value));
}

const STATE_DIR: Flag = { name: 'state-dir', value: '<dir>', help: "the device's state directory (default: state_dir of the configuration)" };
const CONFIG: Flag = { name: 'config', value: '<default.cfg>', help: 'the device configuration', required: true };
const JSON_FLAG: Flag = { name: 'json', help: 'print the answer as one JSON object on stdout' };
const VERBOSE: Flag = { name: 'verbose', help: 'log DEBUG lines too (overrides log_level)' };

const COMMANDS: Command[] = [
  {
    words: ['publish'],
    summary: 'Adds a release to a release directory: size, SHA-256 and a CRC-32 per chunk; signed with --key.',
    flags: [
      { name: 'dir', value: '<releases>', help: 'the release directory (created when missing)', required: true },
      { name: 'file', value: '<firmware.bin>', help: 'the firmware image to publish (give --file or --bundle)' },
      { name: 'bundle', value: '<app dir>', help: 'publish this application directory as a bundle (a tar archive, unpacked into the slot)' },
      { name: 'version', value: '<semver>', help: 'its version, e.g. 1.0.3', required: true },
      { name: 'device', value: '<id>', help: 'publish for this device (give --device or --group)' },
      { name: 'group', value: '<id>', help: 'publish for this group (give --device or --group)' },
      { name: 'chunk-size', value: '<bytes>', help: 'bytes per checked and resumable chunk (default 65536)' },
      { name: 'override-rejected', help: 'devices install it even where this image failed a trial before' },
      { name: 'key', value: '<ota-private.pem>', help: 'sign the manifest with this Ed25519 private key (`ota keygen` makes one)' },
      { name: 'expires', value: '<30d|ISO time>', help: 'a signed manifest expires after this long or at this time (default 30d)' },
      { name: 'downgrade', help: 'sign the manifest as an explicit downgrade (devices with allow_downgrade accept it)' },
      { name: 'rollout', value: '<percent>', help: "with --group: the percentage of the group's devices that install it (a staged rollout)" },
      { name: 'compress', value: 'gzip', help: 'also publish the image gzip-compressed' },
      { name: 'delta-from', value: '<old version|image|app dir>', help: 'also publish a patch from this release (made with xdelta3 -S none)' },
      JSON_FLAG,
    ],
    async run(v) {
      if ((v.device === undefined) === (v.group === undefined)) usage('give exactly one of --device <id> or --group <id>');
      if ((v.file === undefined) === (v.bundle === undefined)) usage('give exactly one of --file <image> or --bundle <directory>');
      if (v.compress !== undefined && v.compress !== 'gzip') usage('--compress takes "gzip"');
      const audience: Audience = text(v, 'device') !== undefined ? { device: text(v, 'device')! } : { group: text(v, 'group')! };
      const file = text(v, 'file') ?? '';
      if (file !== '') await guard(EXIT.CONFIG, '--file', () => readFileSync(file).length);
      const deltaFrom = text(v, 'delta-from');
      const key = text(v, 'key');
      if (key !== undefined) await readInput('key', key);
      const { publish } = await import('../server/release-store.js');
      const m = await guard(EXIT.FAILED, 'cannot write the release into ' + text(v, 'dir'), () =>
        publish({ dir: text(v, 'dir')!, file, bundle: text(v, 'bundle'), compress: text(v, 'compress') as 'gzip' | undefined, deltaFrom: deltaFrom === undefined ? undefined : [deltaFrom], version: text(v, 'version')!, audience, chunkSize: whole(v, 'chunk-size', 1, 2 ** 31), overrideRejected: v['override-rejected'] === true, key, expires: expiry(text(v, 'expires')), downgrade: v.downgrade === true, rollout: whole(v, 'rollout', 0, 2 ** 31) }),
      );
      if (v.json) printJson(m);
      else console.log('published ' + m.ver + ' for ' + ('device' in audience ? 'device ' + audience.device : 'group ' + audience.group) + (m.rollout !== undefined ? ' (' + m.rollout + ' % of it)' : '') + ': ' + m.size + ' bytes, sha256 ' + m.sha256 + ', ' + m.chunk_crc32.length + (m.chunk_crc32.length === 1 ? ' chunk of ' : ' chunks of ') + m.chunk_size + (m.gzip ? '; gzip ' + m.gzip.size + ' bytes' : '') + (m.patches ?? []).map((p) => '; delta from ' + p.base_sha256.slice(0, 12) + ' ' + p.size + ' bytes').join('') + skipped(v.compress !== undefined && !m.gzip, deltaFrom !== undefined && !m.patches));
      return EXIT.OK;
    },
  },
  {
    words: ['serve'],
    summary: 'Serves a release directory over HTTP(S) with byte ranges, and records the status reports devices send.',
    flags: [
      { name: 'dir', value: '<releases>', help: 'the release directory (`ota publish` writes it)', required: true },
      { name: 'port', value: '<n>', help: 'TCP port, 0 to 65535 (default 8080; 0 picks a free port)' },
      { name: 'host', value: '<address>', help: 'address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)' },
      { name: 'quiet', help: 'do not log each request' },
      { name: 'tls-cert', value: '<cert.pem>', help: 'serve HTTPS with this certificate (with --tls-key)' },
      { name: 'tls-key', value: '<key.pem>', help: 'the private key of --tls-cert' },
      { name: 'device-tokens', value: '<tokens.json>', help: 'answer only devices that present their token from this table' },
      { name: 'console', help: 'serve the web console at /console/ (releases, rollouts, devices)' },
      { name: 'admin-token', value: '<token>', help: "with --console: the console's admin token, 16 characters or more (default: a new one, printed)" },
      { name: 'mqtt', value: '<mqtt://user:pass@host:port>', help: "with --console: the broker for the console's \"Flash now\" triggers" },
      { name: 'key', value: '<ota-private.pem>', help: 'with --console: signs the releases the console publishes and re-signs rollout changes' },
      { name: 'max-upload', value: '<bytes>', help: 'with --console: the largest image the console accepts (default 64 MiB)' },
    ],
    async run(v) {
      if ((v['tls-cert'] === undefined) !== (v['tls-key'] === undefined)) usage('--tls-cert and --tls-key go together');
      const consoleOnly = ['admin-token', 'mqtt', 'key', 'max-upload'].filter((k) => v[k] !== undefined);
      if (v.console !== true && consoleOnly.length > 0) usage('--' + consoleOnly[0] + ' belongs to the console: add --console');
      const adminFlag = text(v, 'admin-token');
      if (adminFlag !== undefined && adminFlag.length < 16) usage('--admin-token must be at least 16 characters');
      compilers(true); // a long-running server: see jit.ts
      const { loadTokenTable, newAdminToken } = await import('../server/auth.js');
      const { startServer } = await import('../server/server.js');
      const adminToken = adminFlag ?? newAdminToken();
      const tokens = text(v, 'device-tokens');
      const deviceTokens = tokens === undefined ? undefined : await guard(EXIT.CONFIG, '--device-tokens', () => loadTokenTable(tokens));
      const port = whole(v, 'port', 0, 65535) ?? 8080;
      const dir = text(v, 'dir')!;
      const isDir = await guard(EXIT.CONFIG, '--dir', async () => statSync(dir).isDirectory());
      if (!isDir) throw cliError(EXIT.CONFIG, '--dir ' + dir + ' is not a directory (give the release directory `ota publish --dir` writes)');
      const tls = v['tls-cert'] ? { cert: await readInput('tls-cert', text(v, 'tls-cert')!), key: await readInput('tls-key', text(v, 'tls-key')!) } : undefined;
      const host = text(v, 'host') ?? '127.0.0.1';
      const server = await guard(EXIT.FAILED, 'cannot listen on ' + host + ':' + port, () =>
        startServer({
          tls,
          dir,
          port,
          host,
          log: v.quiet ? undefined : (line) => console.log('ota serve: ' + line),
          deviceTokens,
          console: v.console ? { adminToken, mqtt: text(v, 'mqtt'), key: text(v, 'key'), maxUpload: whole(v, 'max-upload', 1, 2 ** 53 - 1) } : undefined,
        }),
      );
      console.log('ota serve: listening on ' + server.url);
      // The token rides in the URL's fragment, which browsers never send to the server.
      if (v.console) console.log('ota serve: console at ' + server.url + '/console/' + (adminFlag === undefined ? '#token=' + adminToken : ' (admin token from --admin-token)'));
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.close();
      return EXIT.OK;
    },
  },
  {
    words: ['keygen'],
    summary: 'Makes an Ed25519 key pair for signed releases: ota-private.pem (for `publish --key`) and ota-public.pem (for public_keys).',
    flags: [{ name: 'out', value: '<dir>', help: 'directory for the two files (created when missing; existing keys are never overwritten)', required: true }],
    async run(v) {
      const dir = text(v, 'out')!;
      const priv = join(dir, 'ota-private.pem');
      if (existsSync(priv)) throw cliError(EXIT.FAILED, priv + ' exists; keys are never overwritten (choose another --out)');
      const { generateKeys } = await import('../platform/node/trust.js');
      const keys = generateKeys();
      await guard(EXIT.FAILED, 'cannot write the keys into ' + dir, () => {
        mkdirSync(dir, { recursive: true });
        writeFileSync(priv, keys.privatePem, { mode: 0o600 });
        writeFileSync(join(dir, 'ota-public.pem'), keys.publicPem);
      });
      console.log('wrote ' + priv + " (keep it secret: it signs releases) and " + join(dir, 'ota-public.pem') + " (list it in the devices' public_keys)");
      return EXIT.OK;
    },
  },
  {
    words: ['config', 'init'],
    summary: 'Writes a default.cfg with every key at its default.',
    flags: [
      { name: 'out', value: '<file>', help: 'where to write it (default default.cfg)' },
      { name: 'device-id', value: '<id>', help: "the device's id on the update server" },
      { name: 'force', help: 'overwrite an existing file' },
    ],
    async run(v) {
      const out = text(v, 'out') ?? 'default.cfg';
      if (existsSync(out) && v.force !== true) throw cliError(EXIT.FAILED, out + ' exists (use --force to overwrite)');
      const settings = Object.assign(defaultSettings(), { device_id: text(v, 'device-id') ?? '' });
      await guard(EXIT.FAILED, 'cannot write ' + out, () => writeFileSync(out, JSON.stringify(settings, null, 2) + '\n'));
      console.log('wrote ' + out + (settings.device_id === '' ? ' (set "device_id" before use)' : ''));
      return EXIT.OK;
    },
  },
  {
    words: ['device', 'init'],
    summary: 'Creates a simulated board (or adopts a Node board): slot a holds the running version, confirmed; slot b is empty.',
    flags: [
      { name: 'state-dir', value: '<dir>', help: 'the state directory to create', required: true },
      { name: 'version', value: '<semver>', help: 'the running version', required: true },
      { name: 'file', value: '<image>', help: 'the running image (default: a placeholder)' },
      { name: 'bundle', value: '<app dir>', help: 'the running application directory, as a bundle (instead of --file)' },
      { name: 'force', help: 'start over where a device exists' },
    ],
    async run(v) {
      const file = text(v, 'file');
      if (file !== undefined) await guard(EXIT.CONFIG, '--file', () => readFileSync(file).length);
      printJson(await initDeviceLocked(text(v, 'state-dir')!, text(v, 'version')!, file, v.force === true, text(v, 'bundle')));
      return EXIT.OK;
    },
  },
  {
    words: ['device', 'status'],
    summary: 'Prints the device as JSON: slot, version, boot state, last and next check, last error, pending download, running agent.',
    flags: [{ ...STATE_DIR, help: "the device's state directory (or give --config)" }, { ...CONFIG, required: false, help: 'the device configuration (its state_dir)' }, JSON_FLAG],
    async run(v) {
      printJson(await deviceStatus({ stateDir: text(v, 'state-dir'), config: text(v, 'config') }));
      return EXIT.OK;
    },
  },
  {
    words: ['device', 'check'],
    summary: 'Asks the server what would be installed; downloads and writes nothing.',
    flags: [CONFIG, STATE_DIR, JSON_FLAG, VERBOSE],
    run: (v) => checkDevice({ config: text(v, 'config')!, stateDir: text(v, 'state-dir'), json: v.json === true, verbose: v.verbose === true }),
  },
  {
    words: ['device', 'install'],
    summary: 'Installs a manifest or an image from a file or URL through the same verify, slot and trial path as a download (signed, when public_keys is set).',
    operands: 'FILE|URL',
    flags: [CONFIG, STATE_DIR, { name: 'version', value: '<semver>', help: 'the version of a bare image (a manifest names its own)' }, JSON_FLAG, VERBOSE],
    run: (v, operands) => {
      if (operands.length !== 1) usage('give one manifest or image: FILE or URL');
      return installOnDevice({ config: text(v, 'config')!, stateDir: text(v, 'state-dir'), source: operands[0]!, version: text(v, 'version'), json: v.json === true, verbose: v.verbose === true });
    },
  },
  ...(['mark-good', 'mark-bad', 'rollback'] as const).map(
    (action): Command => ({
      words: ['device', action],
      summary:
        action === 'mark-good'
          ? 'Confirms the slot running on trial: it becomes the known-good slot.'
          : action === 'mark-bad'
            ? 'Rejects the slot running on trial and reboots into the previous one.'
            : 'Goes back to the image in the other slot (rejecting a trial, or leaving a confirmed version) and reboots into it.',
      flags: [CONFIG, STATE_DIR, { name: 'reason', value: '<text>', help: 'why, for the log and the server (default: "by the operator")' }, JSON_FLAG],
      run: (v) => markDevice({ config: text(v, 'config')!, stateDir: text(v, 'state-dir'), action, reason: text(v, 'reason'), json: v.json === true }),
    }),
  ),
  {
    words: ['consent'],
    summary: "Answers a hawkBit action that waits for the user's consent (confirmationBase); the agent tells the server at its next check.",
    operands: 'yes|no',
    flags: [{ ...STATE_DIR, help: "the device's state directory", required: true }],
    async run(v, operands) {
      if (operands.length !== 1 || (operands[0] !== 'yes' && operands[0] !== 'no')) usage('give yes or no');
      await giveConsent(fileState(text(v, 'state-dir')!), operands[0] === 'yes');
      console.log('consent ' + (operands[0] === 'yes' ? 'given' : 'denied') + '; the agent tells the server at its next check');
      return EXIT.OK;
    },
  },
  {
    words: ['device'],
    summary: 'Runs the agent of a simulated board: scheduled checks and remote triggers until SIGINT/SIGTERM (SIGHUP reloads); --once checks and updates once.',
    flags: [CONFIG, STATE_DIR, { name: 'once', help: 'boot, check and update once, then exit' }, { ...JSON_FLAG, help: 'with --once: print the result as one JSON object' }, VERBOSE],
    run: (v) => runDevice({ config: text(v, 'config')!, stateDir: text(v, 'state-dir'), once: v.once === true, json: v.json === true, verbose: v.verbose === true }),
  },
  {
    words: ['run'],
    summary: "Boots the device (trial, confirm, revert) and runs the application from the active slot; exits with the application's code.",
    operands: "[-- <command> [args...]] (none: the bundle's package.json bin or main)",
    flags: [CONFIG, STATE_DIR, VERBOSE],
    run: async (v, operands) => {
      const { runApp } = await import('./run.js');
      return runApp({ config: text(v, 'config')!, stateDir: text(v, 'state-dir'), command: operands, verbose: v.verbose === true });
    },
  },
];

/** What publish left out because it was not smaller than the image, so that a missing gzip or patch is not a surprise. */
function skipped(gzip: boolean, delta: boolean): string {
  const left = (gzip ? ['gzip'] : []).concat(delta ? ['delta'] : []);
  return left.length === 0 ? '' : '; no ' + left.join(' and no ') + ': not smaller than the image';
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function overview(): string {
  const names = COMMANDS.map((c) => 'ota ' + c.words.join(' '));
  // One column wide enough for the longest name ("ota device mark-good"), so no summary touches it.
  const width = Math.max(...names.map((n) => n.length)) + 2;
  return [
    'Usage: ota <command> [options]     (ota <command> --help: its options)',
    '',
    'Commands:',
    ...COMMANDS.map((c, i) => '  ' + names[i]!.padEnd(width) + c.summary),
    '',
    'Options:',
    '  ' + '--version'.padEnd(width) + 'print the version of ota-client',
    '  ' + '-h, --help'.padEnd(width) + 'show this help',
    '',
    'Exit codes (every command):',
    exitCodeTable(),
  ].join('\n');
}

/** The command named by the leading words of `argv` (the longest match), and the rest. */
function find(argv: string[]): { command: Command; rest: string[] } | null {
  let best: Command | null = null;
  for (const c of COMMANDS) {
    if (c.words.every((w, i) => argv[i] === w) && (best === null || c.words.length > best.words.length)) best = c;
  }
  return best === null ? null : { command: best, rest: argv.slice(best.words.length) };
}

async function main(argv: string[]): Promise<number> {
  const first = argv[0];
  if (first === '--version' || first === '-V') {
    console.log(version());
    return EXIT.OK;
  }
  if (first === undefined || first === 'help' || first === '--help' || first === '-h') {
    const topic = first === 'help' ? find(argv.slice(1)) : null;
    if (topic) console.log(helpText(topic.command));
    else if (first === undefined) console.error(overview());
    else console.log(overview());
    return first === undefined ? EXIT.USAGE : EXIT.OK;
  }
  const found = find(argv);
  if (found === null) usage('unknown command ' + JSON.stringify(first));
  const { command } = found;
  let rest = found.rest;
  // `ota device frobnicate`: a mistyped subcommand, not an operand.
  if (command.words.length === 1 && command.words[0] === 'device' && rest[0] !== undefined && !rest[0].startsWith('-')) {
    usage('unknown command `ota device ' + rest[0] + '`');
  }
  let operands: string[] = [];
  if (command.words[0] === 'run') {
    const dash = rest.indexOf('--');
    if (dash >= 0) {
      operands = rest.slice(dash + 1);
      rest = rest.slice(0, dash);
    }
  }
  const parsed = parseFlags(command, rest);
  if (parsed.values.help === true) {
    console.log(helpText(command));
    return EXIT.OK;
  }
  try {
    return await command.run(parsed.values, operands.length > 0 ? operands : parsed.operands);
  } catch (e) {
    // A value found wrong while running (a port out of range) points at this command's help too.
    if ((e as UsageError).exit === EXIT.USAGE && (e as UsageError).command === undefined) (e as UsageError).command = command;
    throw e;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    const { message, exit } = explain(e);
    console.error('ota: ' + message);
    if (exit === EXIT.USAGE) {
      const command = (e as UsageError).command;
      console.error(command ? 'Usage: ' + usageLine(command) + '\n(`ota ' + command.words.join(' ') + ' --help` lists the options)' : '(`ota --help` lists the commands)');
    }
    process.exitCode = exit;
  },
);
