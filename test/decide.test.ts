/**
 * The offer decision (src/updater/decide.ts), one test per row of docs/decisions.md.
 */
import { describe, expect, it } from 'vitest';
import { decide, type OfferFacts } from '../src/updater/decide.js';
import { inWave } from './helpers/rollout-wave.js';

const SHA = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);

function facts(over: Partial<Omit<OfferFacts, 'offered'>> & { offered?: Partial<OfferFacts['offered']> } = {}): OfferFacts {
  const base: OfferFacts = {
    running: '1.0.2',
    offered: { version: '1.0.3', sha256: SHA, downgrade: false, signed: false, overrideRejected: false },
    rejected: [],
    pending: null,
    allowDowngrade: false,
    inhibitors: [],
    window: null,
    force: false,
    deviceId: 'dev-1',
  };
  return Object.assign(base, over, { offered: Object.assign(base.offered, over.offered) });
}

/** 02:00-04:00 UTC, at `minute` of the day. */
const window = (minute: number) => ({ window: { start: 120, end: 240 }, text: '02:00-04:00', minute });

describe('decide', () => {
  it('1. newer version: install', () => {
    expect(decide(facts())).toEqual({ kind: 'install', downgrade: false, hold: null });
  });
  it('2. same version: up to date', () => {
    expect(decide(facts({ offered: { version: '1.0.2' } }))).toEqual({ kind: 'up-to-date' });
  });
  it('3. older version: downgrade refused', () => {
    expect(decide(facts({ offered: { version: '1.0.1' } }))).toEqual({ kind: 'downgrade-refused' });
  });
  it('4. older, marked downgrade, but the device does not allow downgrades: refused', () => {
    expect(decide(facts({ offered: { version: '1.0.1', downgrade: true } }))).toEqual({ kind: 'downgrade-refused' });
  });
  it('5. older, marked downgrade in a verified signature, allowed: install as a downgrade', () => {
    expect(decide(facts({ offered: { version: '1.0.1', downgrade: true, signed: true }, allowDowngrade: true }))).toEqual({ kind: 'install', downgrade: true, hold: null });
  });
  it('5a. older, marked downgrade but unsigned, allowed: refused (issue 13)', () => {
    expect(decide(facts({ offered: { version: '1.0.1', downgrade: true, signed: false }, allowDowngrade: true }))).toEqual({ kind: 'downgrade-refused' });
  });
  it('6. allowed downgrades do not make an unmarked older version installable', () => {
    expect(decide(facts({ offered: { version: '1.0.1' }, allowDowngrade: true }))).toEqual({ kind: 'downgrade-refused' });
  });
  it('7. an image that failed its trial here: rejected', () => {
    expect(decide(facts({ rejected: [SHA] }))).toEqual({ kind: 'rejected' });
  });
  it('8. a failed image published with override_rejected: install', () => {
    expect(decide(facts({ rejected: [SHA], offered: { overrideRejected: true } })).kind).toBe('install');
  });
  it('9. hash not known yet: the rejected list cannot refuse it before the download', () => {
    expect(decide(facts({ rejected: [SHA], offered: { sha256: null } })).kind).toBe('install');
  });
  it('10. the same release installed and waiting for its reboot: reboot into it', () => {
    expect(decide(facts({ pending: { version: '1.0.3', sha256: SHA } }))).toEqual({ kind: 'reboot-pending' });
  });
  it('11. another build of that version waiting: install the offered one', () => {
    expect(decide(facts({ pending: { version: '1.0.3', sha256: OTHER } })).kind).toBe('install');
  });
  it('12. the server says download now, install later: hold without a deadline', () => {
    expect(decide(facts({ offered: { installHold: 'update: skip' } }))).toEqual({ kind: 'install', downgrade: false, hold: { reason: 'update: skip', waitMs: null } });
  });
  it('13. the application holds installs: hold until it lets go', () => {
    expect(decide(facts({ inhibitors: ['recording'] }))).toEqual({ kind: 'install', downgrade: false, hold: { reason: 'the application is busy (recording)', waitMs: null } });
  });
  it('14. outside the maintenance window: hold until it opens', () => {
    expect(decide(facts({ window: window(60) }))).toEqual({ kind: 'install', downgrade: false, hold: { reason: 'outside the maintenance window 02:00-04:00 UTC', waitMs: 60 * 60000 } });
  });
  it('15. inside the maintenance window: install', () => {
    expect(decide(facts({ window: window(150) }))).toEqual({ kind: 'install', downgrade: false, hold: null });
  });
  it('16. outside the window but forced (remote trigger): install', () => {
    expect(decide(facts({ window: window(60), force: true }))).toEqual({ kind: 'install', downgrade: false, hold: null });
  });
  it('17. forced, but the application holds installs: still held', () => {
    expect(decide(facts({ inhibitors: ['call'], force: true }))).toEqual({ kind: 'install', downgrade: false, hold: { reason: 'the application is busy (call)', waitMs: null } });
  });
  it('18. up to date wins over every hold and over the rejected list', () => {
    expect(decide(facts({ offered: { version: '1.0.2' }, rejected: [SHA], inhibitors: ['x'] }))).toEqual({ kind: 'up-to-date' });
  });
  it('19. a staged rollout takes the devices whose bucket is below the percentage, and only newer versions', () => {
    const ids = Array.from({ length: 40 }, (_, i) => 'unit-' + i);
    for (const id of ids) {
      const kind = decide(facts({ deviceId: id, offered: { rollout: 30 } })).kind;
      expect(kind, id).toBe(inWave(id, 30) ? 'install' : 'not-in-wave');
    }
    expect(ids.some((id) => inWave(id, 30)) && ids.some((id) => !inWave(id, 30))).toBe(true);
    expect(decide(facts({ offered: { rollout: 0, version: '1.0.2' } })).kind).toBe('up-to-date');
    expect(decide(facts({ offered: { rollout: 100 } })).kind).toBe('install');
    expect(decide(facts({ offered: { rollout: 0 } })).kind).toBe('not-in-wave');
  });
  it('20. a different version where either is not semver: install (IoTaaP\'s rule, hawkBit free text)', () => {
    expect(decide(facts({ running: '2023.04', offered: { version: '2023.05' } }))).toEqual({ kind: 'install', downgrade: false, hold: null });
    // No order without semver: an "older" text is an update too.
    expect(decide(facts({ running: '2023.05', offered: { version: '2023.04' } })).kind).toBe('install');
    expect(decide(facts({ running: '1.0.2', offered: { version: 'nightly-7' } })).kind).toBe('install');
  });
  it('21. identical text, not semver: up to date', () => {
    expect(decide(facts({ running: '2023.05', offered: { version: '2023.05' } }))).toEqual({ kind: 'up-to-date' });
  });
  it('22. different text, not semver, an image that failed here: rejected (no update loop)', () => {
    expect(decide(facts({ running: '2023.04', offered: { version: '2023.05' }, rejected: [SHA] }))).toEqual({ kind: 'rejected' });
  });
});
