/**
 * `ota run`: the boot step and supervisor of a Node application kept in the slots. Each start is
 * a boot: a pending trial is started (or counted again, or reverted), then the application runs
 * from the active slot. A trial slot is confirmed by the health check, or by the application
 * itself (`confirm()`), within `confirm_timeout`; otherwise it is reverted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadBootState } from '../boot/boot-store.js';
import { toOtaError } from '../errors.js';
import { readConfigFile } from '../platform/node/config-file.js';
import { nodePlatform, platformOptions, REBOOT_EXIT_CODE } from '../platform/node/platform.js';
import { Updater } from '../updater/updater.js';
import { runHealthCheck } from './health-check.js';
import { cliError } from './cli-error.js';
import { serviceNotifier } from '../platform/node/sd-notify.js';
import { EXIT } from './exit-codes.js';
import { lockAgent } from './lock-agent.js';

/** Options of `ota run`. */
export interface RunAppOptions {
  config: string;
  stateDir?: string;
  /**
   * The application command; it gets OTA_SLOT_PATH, OTA_VERSION, OTA_BOOT_STATE, OTA_CONFIG.
   * Empty: the running bundle's entry (see {@link bundleEntry}).
   */
  command: string[];
  /** Log DEBUG lines too. */
  verbose?: boolean;
}

/** Runs the application; resolves to the exit code for the supervisor. */
export async function runApp(options: RunAppOptions): Promise<number> {
  const file = readConfigFile(options.config);
  const { config } = file;
  const stateDir = options.stateDir ?? file.stateDir;
  lockAgent(stateDir); // held until the process ends; the application's own confirm() takes no lock
  let child: ChildProcess | null = null;
  let finish: (code: number) => void = () => undefined;
  const finished = new Promise<number>((r) => (finish = r));
  const platform = nodePlatform({
    ...platformOptions(config, stateDir),
    ...(options.verbose ? { logLevel: 'DEBUG' as const } : {}),
    // The launcher's own reboot (after a revert): stop the application and let the supervisor restart us.
    reboot: async () => {
      child?.kill('SIGTERM');
      finish(REBOOT_EXIT_CODE);
    },
  });
  for (const w of file.warnings) platform.logger.log('WARNING', w);
  if ((await loadBootState(platform.state)) === null) throw cliError(EXIT.STATE, stateDir + ' holds no device (create one with `ota device init`)');
  const updater = new Updater({ config, platform });
  const status = await updater.boot();
  platform.logger.log('INFO', 'Starting slot ' + status.slot + ' (' + status.version + ', ' + status.state + ')');

  const slotPath = platform.slots.locate(status.slot);
  const [command, ...args] = options.command.length > 0 ? options.command : bundleEntry(slotPath);
  child = spawn(command!, args, {
    stdio: 'inherit',
    // A bundle's application runs in its own directory.
    cwd: options.command.length > 0 ? undefined : slotPath,
    env: Object.assign({}, process.env, {
      OTA_SLOT_PATH: slotPath,
      OTA_VERSION: status.version,
      OTA_BOOT_STATE: status.state,
      OTA_CONFIG: resolve(options.config),
      OTA_STATE_DIR: resolve(stateDir),
    }),
  });
  child.on('error', (e) => {
    platform.logger.log('ERROR', 'Cannot start the application: ' + e.message);
    finish(1);
  });
  child.on('exit', (code, signal) => finish(code ?? 128 + (signal ? constants.signals[signal] : 0)));
  // Ready for systemd (Type=notify) once the application runs; the application may send its own
  // notifications too (NOTIFY_SOCKET is in its environment, the unit has NotifyAccess=all).
  const notify = serviceNotifier(platform.logger);
  notify.ready('Running slot ' + status.slot + ' (' + status.version + ', ' + status.state + ')');
  const forward = (signal: NodeJS.Signals) => () => child?.kill(signal);
  process.on('SIGTERM', forward('SIGTERM'));
  process.on('SIGINT', forward('SIGINT'));

  let cancelTimer = () => undefined as void;
  // The application may have confirmed (or reverted) itself meanwhile: decide only a trial still open.
  const stillTrial = async () => (await updater.status()).state === 'trial';
  const revertIfStillTrial = async (reason: string) => {
    if (await stillTrial()) await updater.revert(reason);
  };
  const confirmIfStillTrial = async () => {
    if (await stillTrial()) await updater.confirm();
  };
  if (status.state === 'trial') {
    if (config.health_command !== '') {
      runHealthCheck(config.health_command, { OTA_SLOT_PATH: platform.slots.locate(status.slot), OTA_VERSION: status.version }, config.health_timeout)
        .then((verdict) => (verdict.ok ? confirmIfStillTrial() : revertIfStillTrial(verdict.reason)))
        .catch((e) => platform.logger.log('ERROR', 'Health check step failed: ' + toOtaError(e, 'boot').message));
    } else if (config.confirm_timeout > 0) {
      cancelTimer = platform.clock.setTimer(() => {
        revertIfStillTrial('slot ' + status.slot + ' (' + status.version + ') was not confirmed within ' + config.confirm_timeout + ' s').catch((e) =>
          platform.logger.log('ERROR', 'Revert failed: ' + toOtaError(e, 'boot').message),
        );
      }, config.confirm_timeout * 1000);
    }
  }
  const code = await finished;
  notify.stopping();
  cancelTimer();
  return code;
}

/**
 * The command that starts a bundle: Node on its `package.json` `bin` (the first, when several)
 * or `main`, else `index.js`.
 */
function bundleEntry(dir: string): string[] {
  let pkg: { bin?: string | Record<string, string>; main?: string } = {};
  try {
    if (!statSync(dir).isDirectory()) throw new Error('not a directory');
    pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as typeof pkg;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new Error('the running slot (' + dir + ') is not a bundle with a readable package.json (' + (e as Error).message + '); give the command after --');
    }
  }
  const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin ? Object.values(pkg.bin)[0] : undefined;
  return [process.execPath, join(dir, bin ?? pkg.main ?? 'index.js')];
}
