import { describe, expect, it } from 'vitest';
import { beginWrite, bootFromLoader, bootSelect, confirmBooted, initialBootState, markInstalled, rejectTrial, updateTarget, type BootState } from '../src/boot/boot-state.js';
import { grubVariables } from '../src/boot/grub-env.js';
import { ubootVariables } from '../src/boot/uboot-env.js';

const v1 = { version: '1.0.0', sha256: 'a'.repeat(64), size: 10 };
const v2 = { version: '1.1.0', sha256: 'b'.repeat(64), size: 20 };

function installed(): BootState {
  const s = initialBootState(v1, 3);
  const target = updateTarget(s);
  return markInstalled(beginWrite(s, target), target, v2, 3);
}

describe('boot control', () => {
  it('writes only the slot that is neither running nor the fallback', () => {
    const s = initialBootState(v1, 3);
    expect(updateTarget(s)).toBe('b');
    expect(() => beginWrite(s, 'a')).toThrow('refusing to write slot a');
    expect(beginWrite(s, 'b').slots.b).toBeNull();
  });

  it('boots an installed slot on trial and makes it the fallback once confirmed', () => {
    const s = installed();
    expect(s).toMatchObject({ booted: 'a', trial: 'b', state: 'confirmed' });
    const t = bootSelect(s);
    expect(t).toMatchObject({ booted: 'b', confirmed: 'a', trial: 'b', attempts: 1, state: 'trial' });
    expect(() => updateTarget(t)).toThrow('running on trial');
    const c = confirmBooted(t);
    expect(c).toMatchObject({ booted: 'b', confirmed: 'b', trial: null, state: 'confirmed' });
    expect(updateTarget(c)).toBe('a');
  });

  it('reverts after the allowed trial boots pass without confirmation', () => {
    let s = installed();
    for (let i = 1; i <= 3; i++) {
      s = bootSelect(s);
      expect(s).toMatchObject({ booted: 'b', attempts: i, state: 'trial' });
    }
    s = bootSelect(s);
    expect(s).toMatchObject({ booted: 'a', confirmed: 'a', trial: null, state: 'reverted', rejected: [v2.sha256] });
    expect(s.last_error).toBe('slot b (1.1.0) was not confirmed within 3 boot attempts');
    expect(bootSelect(s)).toMatchObject({ booted: 'a', state: 'reverted' });
  });

  it('rejects a failed trial and boots the fallback next', () => {
    const s = rejectTrial(bootSelect(installed()), 'health check failed');
    expect(s).toMatchObject({ trial: null, state: 'reverted', last_error: 'health check failed', rejected: [v2.sha256] });
    expect(bootSelect(s)).toMatchObject({ booted: 'a', state: 'reverted' });
  });

  it('refuses to confirm when nothing is on trial', () => {
    expect(() => confirmBooted(initialBootState(v1, 3))).toThrow('nothing to confirm');
    expect(() => rejectTrial(initialBootState(v1, 3), 'x')).toThrow('nothing to revert');
  });
});

describe('boot control where the boot loader chooses (bootFromLoader)', () => {
  it('starts the trial when the boot loader booted the trial slot', () => {
    expect(bootFromLoader(installed(), { slot: 'b', next: 'b', left: 2 })).toMatchObject({ booted: 'b', trial: 'b', attempts: 1, state: 'trial' });
  });

  it('counts one attempt when the boot loader was never pointed at the trial slot, and never records it as running', () => {
    const s = bootFromLoader(installed(), { slot: 'a', next: 'a', left: 2 });
    expect(s).toMatchObject({ booted: 'a', confirmed: 'a', trial: 'b', attempts: 1, state: 'confirmed' });
    expect(() => confirmBooted(s)).toThrow('nothing to confirm');
  });

  it('reverts at once when U-Boot gave up on the trial slot after the tries it was given', () => {
    const s = bootFromLoader(installed(), { slot: 'a', next: 'b', left: 0 });
    expect(s).toMatchObject({ booted: 'a', trial: null, state: 'reverted', rejected: [v2.sha256] });
    expect(s.last_error).toBe('slot b (1.1.0) did not come up: the boot loader gave up on it after its tries; slot a runs');
  });

  it('counts the one try GRUB gives per arming, and reverts when boot_attempts are used up', () => {
    let s = installed();
    for (let i = 1; i < 3; i++) {
      s = bootFromLoader(s, { slot: 'a', next: 'b', left: 0, triesPerApply: 1 });
      expect(s).toMatchObject({ trial: 'b', attempts: i });
    }
    expect(bootFromLoader(s, { slot: 'a', next: 'b', left: 0, triesPerApply: 1 })).toMatchObject({ trial: null, state: 'reverted' });
  });

  it('makes the other slot the confirmed one when the boot loader gave up on the confirmed slot', () => {
    const c = confirmBooted(bootSelect(installed()));
    expect(bootFromLoader(c, { slot: 'a', next: 'b', left: 0 })).toMatchObject({ booted: 'a', confirmed: 'a', state: 'reverted' });
    // A stale environment that booted a rejected image changes nothing but what runs (the updater reboots).
    const r = rejectTrial(bootSelect(installed()), 'health check failed');
    expect(bootFromLoader(r, { slot: 'b', next: 'b', left: 2 })).toMatchObject({ booted: 'b', confirmed: 'a', state: 'reverted' });
  });
});

describe('boot loader variables, as RAUC writes them', () => {
  const base = { booted: 'a' as const, confirmed: 'a' as const, maxAttempts: 12 };
  it('U-Boot: hex counters; mark-active, mark-good (other counter untouched), mark-bad', () => {
    expect(ubootVariables({ ...base, next: 'b', trial: true, attemptsLeft: 12, otherBootable: true })).toEqual({ BOOT_A_LEFT: 'c', BOOT_B_LEFT: 'c', BOOT_ORDER: 'B A' });
    expect(ubootVariables({ ...base, booted: 'b', next: 'b', trial: true, attemptsLeft: 11, otherBootable: true })).toEqual({ BOOT_B_LEFT: 'b', BOOT_ORDER: 'B A' });
    expect(ubootVariables({ ...base, next: 'a', trial: false, attemptsLeft: 12, otherBootable: true })).toEqual({ BOOT_A_LEFT: 'c' });
    expect(ubootVariables({ ...base, next: 'a', trial: false, attemptsLeft: 12, otherBootable: false })).toEqual({ BOOT_A_LEFT: 'c', BOOT_ORDER: 'A', BOOT_B_LEFT: '0' });
  });

  it('GRUB: set_primary, set_state good and bad', () => {
    expect(grubVariables({ ...base, next: 'b', trial: true, attemptsLeft: 12, otherBootable: true })).toEqual(['A_OK=1', 'A_TRY=0', 'B_OK=1', 'B_TRY=0', 'ORDER=B A']);
    expect(grubVariables({ ...base, next: 'a', trial: false, attemptsLeft: 12, otherBootable: false })).toEqual(['A_OK=1', 'A_TRY=0', 'B_OK=0', 'B_TRY=0']);
  });
});
