/**
 * The Espruino build's version comparator (src/platform/espruino/semver.ts) agrees with
 * node-semver (the `semver` package the Node build uses), in strict mode:
 * - cases transcribed from npm/node-semver's test/fixtures/{comparisons,equality,valid-versions,
 *   invalid-versions}.js (read at its 7.8.5 release) and from classes/semver.js (MAX_LENGTH 256,
 *   numbers up to MAX_SAFE_INTEGER, `trim()` before matching, `=` only in loose mode);
 * - node-semver's own fixture files, when `$SEMVER_FIXTURES` names that directory (a checkout's
 *   test/fixtures; nothing of it is kept here);
 * - a differential property against the semver package.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import fc from 'fast-check';
import semverGt from 'semver/functions/gt.js';
import semverValid from 'semver/functions/valid.js';
import { afterEach, describe, expect, it } from 'vitest';
import valid, { gt } from '../src/platform/espruino/semver.js';

/** Both comparators agree on `a` and `b`'s validity and, when both are valid, on their order. */
function agree(a: string, b: string): void {
  expect([valid(a), valid(b)], JSON.stringify([a, b])).toEqual([semverValid(a), semverValid(b)]);
  if (semverValid(a) === null || semverValid(b) === null) return;
  expect([gt(a, b), gt(b, a)], JSON.stringify([a, b])).toEqual([semverGt(a, b), semverGt(b, a)]);
}

const NBSP = '\u00a0';
const BOM = '\ufeff';

describe('Espruino semver, transcribed cases', () => {
  it('orders what test/fixtures/comparisons.js orders (first greater than second)', () => {
    const pairs = [
      ['0.0.0', '0.0.0-foo'], ['0.0.1', '0.0.0'], ['1.0.0', '0.9.9'], ['0.10.0', '0.9.0'], ['0.99.0', '0.10.0'],
      ['v0.0.0', '0.0.0-foo'], ['2.0.0', 'v1.2.3'], ['1.2.3', '1.2.3-asdf'], ['1.2.3', '1.2.3-4'],
      ['1.2.3', '1.2.3-4-foo'], ['1.2.3-5-foo', '1.2.3-5'], ['1.2.3-5', '1.2.3-4'], ['1.2.3-5-foo', '1.2.3-5-Foo'],
      ['3.0.0', '2.7.2+asdf'], ['1.2.3-a.10', '1.2.3-a.5'], ['1.2.3-a.b', '1.2.3-a.5'], ['1.2.3-a.b', '1.2.3-a'],
      ['1.2.3-a.b.c.10.d.5', '1.2.3-a.b.c.5.d.100'], ['1.2.3-r2', '1.2.3-r100'], ['1.2.3-r100', '1.2.3-R2'],
    ];
    for (const [a, b] of pairs) {
      expect([gt(a!, b!), gt(b!, a!)], a + ' > ' + b).toEqual([true, false]);
      agree(a!, b!);
    }
  });

  it('equates what test/fixtures/equality.js equates in strict mode, and rejects its loose-only forms', () => {
    for (const [a, b] of [['1.2.3-beta+build', '1.2.3-beta+otherbuild'], ['1.2.3+build', '1.2.3+otherbuild'], ['  v1.2.3+build', '1.2.3+otherbuild']]) {
      expect([gt(a!, b!), gt(b!, a!)]).toEqual([false, false]);
      agree(a!, b!);
    }
    // `=1.2.3` and `v 1.2.3` are node-semver's loose forms: strict mode (what the agent uses) rejects them.
    for (const loose of ['=1.2.3', ' =1.2.3', '= 1.2.3', 'v 1.2.3', ' v 1.2.3', '=1.2.3-beta', ' = 1.2.3-beta+otherbuild']) {
      expect(valid(loose), loose).toBeNull();
      expect(semverValid(loose), loose).toBeNull();
    }
  });

  it('accepts and normalises test/fixtures/valid-versions.js', () => {
    const cases: [string, string][] = [
      ['1.0.0', '1.0.0'], ['v1.2.3', '1.2.3'], ['1.2.3-0', '1.2.3-0'], ['1.2.3-1.2.3', '1.2.3-1.2.3'], ['1.2.3-1a', '1.2.3-1a'],
      ['1.2.3-alpha.1', '1.2.3-alpha.1'], ['1.2.3-alpha-.-beta', '1.2.3-alpha-.-beta'], ['1.2.3+456', '1.2.3'],
      ['1.2.3+new-build', '1.2.3'], ['1.2.3+build.alpha.beta', '1.2.3'], ['1.2.3-alpha+build', '1.2.3-alpha'],
    ];
    for (const [v, normal] of cases) expect([valid(v), semverValid(v)], v).toEqual([normal, normal]);
  });

  it('rejects test/fixtures/invalid-versions.js, and takes 16-digit numbers up to 2^53 - 1', () => {
    const max = '9007199254740991'; // Number.MAX_SAFE_INTEGER, node-semver's limit
    for (const v of ['1'.repeat(255) + '.0.0', max + '0.0.0', '0.' + max + '0.0', '0.0.' + max + '0', 'hello, world', '9007199254740992.0.0']) {
      expect([valid(v), semverValid(v)], v).toEqual([null, null]);
    }
    for (const v of [max + '.0.0', '0.' + max + '.1', '1.0.' + max, '1234567890123456.0.0']) {
      expect([valid(v), semverValid(v)], v).toEqual([v, v]);
    }
    expect(gt('9007199254740991.0.0', '9007199254740990.0.0')).toBe(true);
    expect(gt('1.0.0', '9007199254740991.0.0')).toBe(false);
  });
});

describe('Espruino semver, white space', () => {
  const trim = String.prototype.trim;
  afterEach(() => {
    String.prototype.trim = trim;
  });

  it('trims a no-break space and byte-order mark as node-semver does, even with Espruino’s ASCII-only trim()', () => {
    const versions = [NBSP + '1.2.3', BOM + '1.2.3', '1.2.3' + NBSP, ' ' + BOM + 'v1.2.3-rc.1\u3000', '\u20281.0.0\u2029'];
    const expected = versions.map((v) => semverValid(v));
    expect(expected).toEqual(['1.2.3', '1.2.3', '1.2.3', '1.2.3-rc.1', '1.0.0']);
    // Espruino's String.prototype.trim (jswrap_string.c, isWhitespace in jsutils.h) removes only
    // tab, LF, VT, FF, CR and space: emulated here, so the comparator cannot lean on trim().
    String.prototype.trim = function (this: string) {
      let a = 0;
      let b = this.length;
      const ws = (c: number) => c === 9 || c === 10 || c === 11 || c === 12 || c === 13 || c === 32;
      while (a < b && ws(this.charCodeAt(a))) a++;
      while (b > a && ws(this.charCodeAt(b - 1))) b--;
      return this.slice(a, b);
    };
    expect(versions.map((v) => valid(v))).toEqual(expected);
    expect(valid('\u00851.2.3')).toBeNull(); // NEL is no white space to JavaScript
    expect(gt(BOM + '1.2.4', '1.2.3' + NBSP)).toBe(true);
  });
});

const FIXTURES = process.env.SEMVER_FIXTURES;

describe.skipIf(!FIXTURES)('Espruino semver, node-semver’s own fixtures ($SEMVER_FIXTURES)', () => {
  it('agrees with node-semver on comparisons.js, equality.js, valid-versions.js and invalid-versions.js', () => {
    const load = createRequire(join(FIXTURES!, 'x.js'));
    type Row = [unknown, unknown, ...unknown[]];
    const files = ['comparisons', 'equality', 'valid-versions', 'invalid-versions'];
    for (const f of files) expect(existsSync(join(FIXTURES!, f + '.js')), f).toBe(true);
    const [comparisons, equality, validVersions, invalidVersions] = files.map((f) => load('./' + f + '.js') as Row[]);
    const strict = (opt: unknown) => opt === undefined || opt === false || (typeof opt === 'object' && opt !== null && !(opt as { loose?: boolean }).loose);
    let pairs = 0;
    let ordered = 0;
    for (const [a, b, opt] of comparisons!) {
      agree(a as string, b as string);
      pairs++;
      if (strict(opt)) {
        expect([gt(a as string, b as string), gt(b as string, a as string)], a + ' > ' + b).toEqual([true, false]);
        ordered++;
      }
    }
    for (const [a, b, opt] of equality!) {
      agree(a as string, b as string);
      pairs++;
      if (strict(opt)) {
        expect([gt(a as string, b as string), gt(b as string, a as string)], a + ' = ' + b).toEqual([false, false]);
        ordered++;
      }
    }
    for (const [v, major, minor, patch, pre] of validVersions!) {
      const s = v as string;
      const normal = major + '.' + minor + '.' + patch + ((pre as unknown[]).length ? '-' + (pre as unknown[]).join('.') : '');
      expect([valid(s), semverValid(s)], s).toEqual([normal, normal]);
    }
    let invalid = 0;
    for (const [v] of invalidVersions!) {
      // Non-strings (a RegExp, an object with toString) are refused by type before any parsing.
      expect(valid(v as string), String(v)).toBeNull();
      invalid++;
    }
    console.log(
      'node-semver fixtures: ' + comparisons!.length + ' comparisons, ' + equality!.length + ' equalities (' + pairs + ' pairs checked against semver, ' + ordered + ' strict ones against the fixture), ' +
        validVersions!.length + ' valid and ' + invalid + ' invalid versions',
    );
  });
});

describe('Espruino semver, differential property', () => {
  const opts = { seed: 17, numRuns: 3000 };
  const big = fc.constantFrom('9007199254740991', '9007199254740992', '1234567890123456', '12345678901234567', '99999999999999999999');
  const part = fc.oneof(fc.nat({ max: 30 }).map(String), fc.constantFrom('01', '1a', '', 'x', '00'), big);
  const ident = fc.oneof(fc.constantFrom('alpha', 'beta', 'rc', 'RC', '0', '1', '2', '10', '01', 'a-b', '-', '', 'x.y', '1a'), fc.nat({ max: 12 }).map(String), big);
  const space = fc.constantFrom('', ' ', '\t', NBSP, BOM, '\u3000', '\n', '\u0085');
  const version = fc
    .tuple(space, fc.constantFrom('', 'v', '=', 'V', 'v=', '= '), part, part, part, fc.array(ident, { maxLength: 3 }), fc.array(ident, { maxLength: 2 }), space)
    .map(([s1, prefix, a, b, c, p, build, s2]) => s1 + prefix + a + '.' + b + '.' + c + (p.length ? '-' + p.join('.') : '') + (build.length ? '+' + build.join('.') : '') + s2);

  it('valid and gt agree with the semver package', () => {
    fc.assert(fc.property(fc.oneof(version, fc.string()), (v) => valid(v) === semverValid(v)), opts);
    fc.assert(
      fc.property(version, version, (a, b) => {
        if (semverValid(a) === null || semverValid(b) === null) return true;
        return gt(a, b) === semverGt(a, b) && gt(b, a) === semverGt(b, a);
      }),
      opts,
    );
  });
});
