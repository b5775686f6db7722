/**
 * Semantic versions without regular expressions (Espruino's lack `?` and `{n}`): stands in for
 * the `semver` functions `valid` and `gt` in the Espruino build, with node-semver's strict
 * (non-loose) rules as read in npm/node-semver's classes/semver.js, internal/re.js and
 * internal/identifiers.js. `test/espruino-semver.test.ts` checks it against the semver package
 * and against node-semver's own test fixtures.
 */
interface Parsed {
  /** Major, minor, patch as their digits (exact, whatever their size). */
  nums: string[];
  pre: string[];
}

/**
 * The parser and its helpers, defined each time a version is read rather than when the file
 * loads: a board pays about six variables for each function a loaded file defines, for as long
 * as the check's file (ota-client-run) is loaded, download and install included, while versions
 * are read only where a check decides (issue 17).
 */
function parts(): { parse: (v: string) => Parsed | null; isNumeric: (s: string) => boolean; compareDigits: (a: string, b: string) => number } {
  /** node-semver's MAX_SAFE_INTEGER (2^53 - 1), the largest major/minor/patch it accepts. */
  const MAX_SAFE = '9007199254740991';

  function isNumeric(s: string): boolean {
    if (s.length === 0) return false;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) return false;
    }
    return true;
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

  /**
   * ECMAScript's white space and line terminators, which `String.prototype.trim` removes on Node.
   * Espruino's `trim()` removes only ASCII ones and keeps a no-break space or byte-order mark.
   */
  function isSpace(c: number): boolean {
    return (
      (c >= 9 && c <= 13) || c === 32 || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
      c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff
    );
  }

  function trim(s: string): string {
    let a = 0;
    let b = s.length;
    while (a < b && isSpace(s.charCodeAt(a))) a++;
    while (b > a && isSpace(s.charCodeAt(b - 1))) b--;
    return s.slice(a, b);
  }

  /** Digit strings compared by value (no leading zeros here): exact beyond 2^53 too. */
  function compareDigits(a: string, b: string): number {
    if (a.length !== b.length) return a.length - b.length;
    return a < b ? -1 : a > b ? 1 : 0;
  }

  function parse(v: string): Parsed | null {
    if (typeof v !== 'string' || v.length > 256) return null;
    let s = trim(v);
    if (s.charAt(0) === 'v') s = s.slice(1);
    const plus = s.indexOf('+');
    if (plus >= 0) {
      const build = s.slice(plus + 1).split('.');
      for (const b of build) if (!isIdent(b)) return null;
      s = s.slice(0, plus);
    }
    const dash = s.indexOf('-');
    const nums = (dash >= 0 ? s.slice(0, dash) : s).split('.');
    const pre = dash >= 0 ? s.slice(dash + 1).split('.') : [];
    if (nums.length !== 3) return null;
    for (const n of nums) {
      if (!isNumeric(n) || (n.length > 1 && n.charAt(0) === '0') || compareDigits(n, MAX_SAFE) > 0) return null;
    }
    for (const p of pre) {
      if (!isIdent(p) || (isNumeric(p) && p.length > 1 && p.charAt(0) === '0')) return null;
    }
    return { nums, pre };
  }

  return { parse, isNumeric, compareDigits };
}

/** The normalised version, or null (as semver's `valid`). */
export default function valid(v: string): string | null {
  const p = parts().parse(v);
  return p === null ? null : p.nums.join('.') + (p.pre.length ? '-' + p.pre.join('.') : '');
}

/** a > b by semver precedence (as semver's `gt`); both must be valid. */
export function gt(a: string, b: string): boolean {
  const { parse, isNumeric, compareDigits } = parts();
  /**
   * node-semver's compareIdentifiers: numeric identifiers compare as numbers (as node-semver does,
   * through floating point) and before alphanumeric ones, which compare as strings.
   */
  function compareIdent(p: string, q: string): number {
    const pn = isNumeric(p);
    const qn = isNumeric(q);
    if (pn && qn) return Number(p) - Number(q);
    if (pn) return -1;
    if (qn) return 1;
    return p < q ? -1 : p > q ? 1 : 0;
  }
  const x = parse(a)!;
  const y = parse(b)!;
  for (let i = 0; i < 3; i++) {
    const c = compareDigits(x.nums[i]!, y.nums[i]!);
    if (c !== 0) return c > 0;
  }
  if (x.pre.length === 0 || y.pre.length === 0) return x.pre.length === 0 && y.pre.length > 0;
  for (let i = 0; i < Math.min(x.pre.length, y.pre.length); i++) {
    // The first differing identifiers decide, even when they compare equal as numbers.
    if (x.pre[i] !== y.pre[i]) return compareIdent(x.pre[i]!, y.pre[i]!) > 0;
  }
  return x.pre.length > y.pre.length;
}
