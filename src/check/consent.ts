/**
 * The user's consent to an update that waits for it (hawkBit's confirmationBase). The
 * application (`Updater.consent`) or an operator (`ota consent yes|no`) writes the answer to the
 * state store; the agent gives it to the server at its next check. A denial is kept with the
 * action it answered, so the same action is not asked about again.
 */
import type { StateStore } from '../platform/interfaces.js';

/** The state document that holds the answer. */
const CONSENT = 'consent.json';

/** An answer, for the action waiting now (`action` unset) or for the one named. */
export interface Consent {
  answer: 'confirmed' | 'denied';
  action?: string;
}

/** The stored answer, or null. */
export async function readConsent(state: StateStore): Promise<Consent | null> {
  const text = await state.read(CONSENT);
  if (text === null) return null;
  try {
    const c = JSON.parse(text) as Consent;
    if (c.answer !== 'confirmed' && c.answer !== 'denied') return null;
    return typeof c.action === 'string' ? { answer: c.answer, action: c.action } : { answer: c.answer };
  } catch (e) {
    return null;
  }
}

/** Stores the user's answer for the update that waits (or the next one). */
export function giveConsent(state: StateStore, yes: boolean): Promise<void> {
  return state.write(CONSENT, JSON.stringify({ answer: yes ? 'confirmed' : 'denied' }));
}

/** Forgets the answer once it was given to the server. */
export function clearConsent(state: StateStore): Promise<void> {
  return state.remove(CONSENT);
}

/** Keeps a denial bound to the action it answered. */
export function keepDenial(state: StateStore, action: string): Promise<void> {
  return state.write(CONSENT, JSON.stringify({ answer: 'denied', action }));
}
