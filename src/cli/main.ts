#!/usr/bin/env node
/** The `ota` command: publish and serve releases, and run a simulated device. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { defaultSettings } from '../config/config.js';
import { parseDuration } from '../config/durations.js';
import { parseWhole } from '../text/numbers.js';
import { generateKeys } from '../platform/node/trust.js';
import { isOtaError } from '../errors.js';
import { loadTokenTable, newAdminToken } from '../server/auth.js';
import { publish, type Audience } from '../server/release-store.js';
import { startServer } from '../server/server.js';
import { deviceStatus, initDevice, runDevice } from './device.js';
import { runApp } from './run.js';

const USAGE = `Usage:
  ota publish --dir <releases> --file <firmware.bin> --version <semver> (--device <id> | --group <id>) [--chunk-size <bytes>]
              [--override-rejected] [--key <ota-private.pem> [--expires <30d | ISO time>] [--downgrade]] [--rollout <percent> (with --group)]
  ota serve --dir <releases> [--port <n>] [--host 127.0.0.1] [--quiet] [--tls-cert <cert.pem> --tls-key <key.pem>] [--device-tokens <tokens.json>]
            [--console [--admin-token <token>] [--mqtt mqtt://user:pass@host:port] [--key <ota-private.pem>] [--max-upload <bytes>]]
  ota keygen --out <dir>
  ota device init --state-dir <dir> --version <semver> [--file <image>] [--force]
  ota device --config <default.cfg> [--state-dir <dir>] [--once]
  ota device status --state-dir <dir>
  ota run --config <default.cfg> [--state-dir <dir>] -- <command> [args...]
  ota config init [--out default.cfg] [--device-id <id>] [--force]`;

/** A mistake in the command line: printed with the usage, exit code 2. */
function usage(message: string): never {
  const e = new Error(message) as Error & { usage: true };
  e.usage = true;
  throw e;
}

function required(values: Record<string, unknown>, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') usage('--' + name + ' is required');
  return v;
}

function whole(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = parseWhole(v);
  if (n < 0) usage('--' + name + ' must be a whole number');
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

function parse(args: string[], options: ParseArgsConfig['options']) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
  } catch (e) {
    return usage((e as Error).message);
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'publish': {
      const v = parse(rest, { dir: { type: 'string' }, file: { type: 'string' }, version: { type: 'string' }, device: { type: 'string' }, group: { type: 'string' }, 'chunk-size': { type: 'string' }, 'override-rejected': { type: 'boolean' }, key: { type: 'string' }, expires: { type: 'string' }, downgrade: { type: 'boolean' }, rollout: { type: 'string' } });
      if ((v.device === undefined) === (v.group === undefined)) usage('give exactly one of --device <id> or --group <id>');
      const audience: Audience = typeof v.device === 'string' ? { device: v.device } : { group: v.group as string };
      const m = await publish({ dir: required(v, 'dir'), file: required(v, 'file'), version: required(v, 'version'), audience, chunkSize: whole(v['chunk-size'] as string | undefined, 'chunk-size'), overrideRejected: v['override-rejected'] === true, key: v.key as string | undefined, expires: expiry(v.expires as string | undefined), downgrade: v.downgrade === true, rollout: whole(v.rollout as string | undefined, 'rollout') });
      console.log('published ' + m.ver + ' for ' + ('device' in audience ? 'device ' + audience.device : 'group ' + audience.group) + (m.rollout !== undefined ? ' (' + m.rollout + ' % of it)' : '') + ': ' + m.size + ' bytes, sha256 ' + m.sha256 + ', ' + m.chunk_crc32.length + ' chunks of ' + m.chunk_size);
      return 0;
    }
    case 'serve': {
      const v = parse(rest, { dir: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, quiet: { type: 'boolean' }, 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, 'device-tokens': { type: 'string' }, console: { type: 'boolean' }, 'admin-token': { type: 'string' }, mqtt: { type: 'string' }, key: { type: 'string' }, 'max-upload': { type: 'string' } });
      if ((v['tls-cert'] === undefined) !== (v['tls-key'] === undefined)) usage('--tls-cert and --tls-key go together');
      const consoleOnly = ['admin-token', 'mqtt', 'key', 'max-upload'].filter((k) => v[k] !== undefined);
      if (v.console !== true && consoleOnly.length > 0) usage('--' + consoleOnly[0] + ' belongs to the console: add --console');
      if (typeof v['admin-token'] === 'string' && v['admin-token'].length < 16) usage('--admin-token must be at least 16 characters');
      const adminToken = (v['admin-token'] as string | undefined) ?? newAdminToken();
      const server = await startServer({
        tls: v['tls-cert'] ? { cert: readFileSync(v['tls-cert'] as string, 'utf8'), key: readFileSync(v['tls-key'] as string, 'utf8') } : undefined,
        dir: required(v, 'dir'),
        port: whole(v.port as string | undefined, 'port') ?? 8080,
        host: (v.host as string | undefined) ?? '127.0.0.1',
        log: v.quiet ? undefined : (line) => console.log('ota serve: ' + line),
        deviceTokens: v['device-tokens'] ? loadTokenTable(v['device-tokens'] as string) : undefined,
        console: v.console ? { adminToken, mqtt: v.mqtt as string | undefined, key: v.key as string | undefined, maxUpload: whole(v['max-upload'] as string | undefined, 'max-upload') } : undefined,
      });
      console.log('ota serve: listening on ' + server.url);
      // The token rides in the URL's fragment, which browsers never send to the server.
      if (v.console) console.log('ota serve: console at ' + server.url + '/console/' + (v['admin-token'] === undefined ? '#token=' + adminToken : ' (admin token from --admin-token)'));
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.close();
      return 0;
    }
    case 'device': {
      if (rest[0] === 'init') {
        const v = parse(rest.slice(1), { 'state-dir': { type: 'string' }, version: { type: 'string' }, file: { type: 'string' }, force: { type: 'boolean' } });
        const status = await initDevice(required(v, 'state-dir'), required(v, 'version'), v.file as string | undefined, v.force === true);
        console.log(JSON.stringify(status));
        return 0;
      }
      if (rest[0] === 'status') {
        const v = parse(rest.slice(1), { 'state-dir': { type: 'string' } });
        console.log(JSON.stringify(await deviceStatus(required(v, 'state-dir'))));
        return 0;
      }
      const v = parse(rest, { config: { type: 'string' }, 'state-dir': { type: 'string' }, once: { type: 'boolean' } });
      return runDevice({ config: required(v, 'config'), stateDir: v['state-dir'] as string | undefined, once: v.once === true });
    }
    case 'keygen': {
      const v = parse(rest, { out: { type: 'string' } });
      const dir = required(v, 'out');
      const keys = generateKeys();
      mkdirSync(dir, { recursive: true });
      if (existsSync(join(dir, 'ota-private.pem'))) throw new Error(join(dir, 'ota-private.pem') + ' exists; keys are never overwritten');
      writeFileSync(join(dir, 'ota-private.pem'), keys.privatePem, { mode: 0o600 });
      writeFileSync(join(dir, 'ota-public.pem'), keys.publicPem);
      console.log('wrote ' + join(dir, 'ota-private.pem') + ' (keep it secret: it signs releases) and ' + join(dir, 'ota-public.pem') + ' (list it in the devices\' public_keys)');
      return 0;
    }
    case 'config': {
      if (rest[0] !== 'init') usage('unknown config command ' + JSON.stringify(rest[0] ?? ''));
      const v = parse(rest.slice(1), { out: { type: 'string' }, 'device-id': { type: 'string' }, force: { type: 'boolean' } });
      const out = (v.out as string | undefined) ?? 'default.cfg';
      if (existsSync(out) && v.force !== true) throw new Error(out + ' exists (use --force to overwrite)');
      const settings = Object.assign(defaultSettings(), { device_id: (v['device-id'] as string | undefined) ?? '' });
      writeFileSync(out, JSON.stringify(settings, null, 2) + '\n');
      console.log('wrote ' + out + (settings.device_id === '' ? ' (set "device_id" before use)' : ''));
      return 0;
    }
    case 'run': {
      const dash = rest.indexOf('--');
      if (dash < 0 || dash === rest.length - 1) usage('give the application command after --');
      const v = parse(rest.slice(0, dash), { config: { type: 'string' }, 'state-dir': { type: 'string' } });
      return runApp({ config: required(v, 'config'), stateDir: v['state-dir'] as string | undefined, command: rest.slice(dash + 1) });
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    default:
      return usage('unknown command ' + JSON.stringify(command));
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    const err = e as Error & { usage?: boolean };
    console.error('ota: ' + (isOtaError(e) ? e.message : err.message));
    if (err.usage) console.error(USAGE);
    process.exitCode = err.usage ? 2 : 1;
  },
);
