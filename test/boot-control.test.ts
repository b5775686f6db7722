import { describe, expect, it } from 'vitest';
import { beginWrite, bootSelect, confirmBooted, initialBootState, markInstalled, rejectTrial, updateTarget, type BootState } from '../src/boot/boot-state.js';

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
