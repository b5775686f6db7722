/**
 * A release the server holds until the user consents (hawkBit's confirmationBase): nothing is
 * downloaded, the application is told (`consent-required`), and the check ends deferred. The
 * answer itself is kept by `check/consent.ts`.
 */
import type { Release } from '../check/release.js';
import type { CheckResult } from './results.js';
import type { UpdaterCore } from './updater-core.js';

/** The result of a check whose release waits for consent; `running` is the running version. */
export function awaitingConsent(core: UpdaterCore, release: Release, consent: { action: string; denied: boolean }, running: string): CheckResult {
  const reason = consent.denied
    ? 'the user denied consent to this update (hawkBit action ' + consent.action + ')'
    : 'waiting for the user\'s consent (hawkBit action ' + consent.action + '): call updater.consent(true) or run `ota consent yes`';
  core.platform.logger.log('INFO', 'Update ' + release.version + ' available; ' + reason);
  core.emit('consent-required', { version: release.version, current: running, action: consent.action, denied: consent.denied });
  return { status: 'deferred', version: running, latest: release.version, reason };
}
