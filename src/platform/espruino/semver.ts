/**
 * Semantic versions without regular expressions (Espruino's lack `?` and `{n}`): stands in for
 * the `semver` functions `valid` and `gt` in the Espruino build. `test/espruino-semver.test.ts`
 * checks it against the semver package.
 */
import { isDigits } from '../../text/numbers.js';

interface Parsed {
  nums: number[];
  pre: string[];
}

function isIdent(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ok = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45;
    if (!ok) return false;
  }
  return true;
}

function parse(v: string): Parsed | null {
  if (typeof v !== 'string' || v.length > 256) return null;
  let s = v.trim();
  if (s.charAt(0) === 'v' || s.charAt(0) === '=') s = s.slice(1);
  const plus = s.indexOf('+');
  if (plus >= 0) {
    const build = s.slice(plus + 1).split('.');
    for (const b of build) if (!isIdent(b)) return null;
    s = s.slice(0, plus);
  }
  const dash = s.indexOf('-');
  const core = (dash >= 0 ? s.slice(0, dash) : s).split('.');
  const pre = dash >= 0 ? s.slice(dash + 1).split('.') : [];
  if (core.length !== 3) return null;
  const nums: number[] = [];
  for (const n of core) {
    if (!isDigits(n) || (n.length > 1 && n.charAt(0) === '0') || n.length > 15) return null;
    nums.push(parseInt(n, 10));
  }
  for (const p of pre) {
    if (!isIdent(p) || (isDigits(p) && p.length > 1 && p.charAt(0) === '0')) return null;
  }
  return { nums, pre };
}

/** The normalised version, or null (as semver's `valid`). */
export default function valid(v: string): string | null {
  const p = parse(v);
  return p === null ? null : p.nums.join('.') + (p.pre.length ? '-' + p.pre.join('.') : '');
}

function compareIdent(a: string, b: string): number {
  const an = isDigits(a);
  const bn = isDigits(b);
  if (an && bn) return parseInt(a, 10) - parseInt(b, 10);
  if (an) return -1;
  if (bn) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** a > b by semver precedence (as semver's `gt`); both must be valid. */
export function gt(a: string, b: string): boolean {
  const x = parse(a)!;
  const y = parse(b)!;
  for (let i = 0; i < 3; i++) if (x.nums[i] !== y.nums[i]) return x.nums[i]! > y.nums[i]!;
  if (x.pre.length === 0 || y.pre.length === 0) return x.pre.length === 0 && y.pre.length > 0;
  for (let i = 0; i < Math.min(x.pre.length, y.pre.length); i++) {
    const c = compareIdent(x.pre[i]!, y.pre[i]!);
    if (c !== 0) return c > 0;
  }
  return x.pre.length > y.pre.length;
}
