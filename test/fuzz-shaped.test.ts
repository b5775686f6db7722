/**
 * Fuzzing with inputs shaped like the real thing: durations ("90s", "1.5h"), hawkBit sleeps
 * ("HH:MM:SS"), URLs (userinfo, IPv4 forms, ports, odd characters) and versions. Arbitrary
 * strings almost never hit "-1:00:00" or "01.2.3"; these arbitraries build them from the parts
 * people and servers write, so a property false on old code (issue 13: parseSleep gave negative
 * sleeps; config took versions the check then refused; "127.evil.example" passed as local) fails
 * within the fixed-seed runs of `npm test`. `npm run fuzz` runs more (FUZZ_RUNS).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config/config.js';
import { parseDuration } from '../src/config/durations.js';
import { isLoopbackHost, isPlainRemote, originOf, parseAuthority } from '../src/config/url-policy.js';
import { parseSleep } from '../src/check/hawkbit.js';
import { compareVersions, parseVersion } from '../src/check/version.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 500);
const opts = { seed: 20261127, numRuns: RUNS };

/** A number as people type one: whole, decimal, signed, padded, exponent, hex, empty. */
const numberText = fc.oneof(
  fc.nat({ max: 100_000 }).map(String),
  fc.tuple(fc.nat({ max: 999 }), fc.nat({ max: 99 })).map(([a, b]) => a + '.' + b),
  fc.constantFrom('-1', '-0', '+5', ' 5', '5 ', '1e3', '.5', '5.', '0x10', '', '1.2.3', 'Infinity', 'NaN', '١٢'),
);

describe('shaped fuzzing (seed ' + opts.seed + ', ' + RUNS + ' runs each)', () => {
  it('durations: a number and a unit, as written in default.cfg', () => {
    const unit = fc.constantFrom('', 's', 'm', 'h', 'd', 'ms', 'S', ' s', 'w');
    fc.assert(
      fc.property(numberText, unit, (n, u) => {
        const v = parseDuration(n + u);
        if (isNaN(v)) return true;
        // Whatever is taken is a plain decimal with a known unit, and its value is that number.
        const m = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(n + u);
        expect(m, JSON.stringify(n + u)).not.toBeNull();
        expect(v).toBe(parseFloat(m![1]!) * { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m![2]!]!);
        return v >= 0 && isFinite(v);
      }),
      opts,
    );
  });

  it('hawkBit sleeps: HH:MM:SS from parts a server might send', () => {
    const part = fc.oneof(
      fc.nat({ max: 99 }).map((n) => (n < 10 ? '0' + n : String(n))),
      fc.integer({ min: -99, max: 999 }).map(String),
      fc.constantFrom('', ' 1', '1 ', '+1', '0x', '1e1', '٣'),
    );
    const sep = fc.constantFrom(':', ':', ':', '::', '.');
    fc.assert(
      fc.property(part, sep, part, sep, part, (h, s1, m, s2, s) => {
        const text = h + s1 + m + s2 + s;
        const ms = parseSleep(text);
        const ok = /^(\d{1,2}):(\d{1,2}):(\d{1,2})$/.exec(text);
        if (ok === null || Number(ok[2]) > 59 || Number(ok[3]) > 59) return ms === null;
        return ms === (Number(ok[1]) * 3600 + Number(ok[2]) * 60 + Number(ok[3])) * 1000;
      }),
      opts,
    );
    expect(parseSleep('-1:00:00')).toBeNull();
  });

  /** URLs built from the parts attackers vary: scheme case, userinfo, host forms, port, path. */
  const host = fc.oneof(
    fc.domain(),
    fc.constantFrom('localhost', 'LOCALHOST', '127.0.0.1', '127.1', '127.0.0.1.evil.example', '127.evil.example', '0x7f.0.0.1', '2130706433', '[::1]', '[0:0:0:0:0:0:0:1]', '[::ffff:127.0.0.1]', 'localhost.', 'evil.example', 'xn--e1afmkfd.example', '%6c%6fcalhost', 'ｌｏｃａｌｈｏｓｔ', 'local\thost', '127.0.0.01'),
  );
  const userinfo = fc.constantFrom('', 'user@', 'user:pass@', 'localhost:80@', '127.0.0.1@', 'a@b@', '@');
  const port = fc.oneof(fc.constant(''), fc.integer({ min: 0, max: 70000 }).map((p) => ':' + p), fc.constantFrom(':', ':080', ':-1', ':80x'));
  const rest = fc.constantFrom('', '/', '/fw.bin', '?x=1', '#frag', '\\@evil.example/', '/@evil.example', '?@evil.example', ' /x');
  const scheme = fc.constantFrom('http://', 'https://', 'HTTP://', 'HttpS://', 'http:/', 'http:', 'gopher://', 'file://');
  const url = fc.tuple(scheme, userinfo, host, port, rest).map((p) => p.join(''));

  it("URLs: the core's origin agrees with the URL parser whenever it claims to know it", () => {
    fc.assert(
      fc.property(url, (u) => {
        const origin = originOf(u);
        if (origin === null) return true;
        const parsed = new URL(u); // throws, failing the property, when the core accepted garbage
        expect(origin, u).toBe(parsed.origin);
        return true;
      }),
      opts,
    );
  });

  it('URLs: plain HTTP counts as local only where the URL parser resolves to this machine', () => {
    const loopback = (h: string) => h === 'localhost' || h === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(h);
    fc.assert(
      fc.property(url, (u) => {
        if (!/^http:\/\//i.test(u) || isPlainRemote(u)) return true;
        expect(loopback(new URL(u).hostname), u).toBe(true);
        return true;
      }),
      opts,
    );
    // The two bypasses of issue 13, and an authority the core cannot be sure of.
    expect(isPlainRemote('http://localhost:80@evil.example')).toBe(true);
    expect(isPlainRemote('http://127.evil.example')).toBe(true);
    expect(isPlainRemote('http://localhost\\@evil.example/')).toBe(true);
    expect(isPlainRemote('http://127.0.0.1:8080/x')).toBe(false);
    expect(parseAuthority('https://user:pw@Example.COM:8443/x')).toEqual({ scheme: 'https', host: 'example.com', port: 8443 });
    expect(isLoopbackHost('[::1]')).toBe(true);
  });

  it('versions: whatever default.cfg takes as firmware_version, the check takes too', () => {
    const core = fc.oneof(fc.nat({ max: 20 }).map(String), fc.constantFrom('00', '01', '007', '-1', 'x', '', ' 1', '1e2'));
    const suffix = fc.constantFrom('', '-rc.1', '-01', '-beta', '+build.5', '-', '+', '.4');
    const prefix = fc.constantFrom('', 'v', '=', ' ', 'V');
    const version = fc.tuple(prefix, core, core, core, suffix).map(([p, a, b, c, s]) => p + a + '.' + b + '.' + c + s);
    fc.assert(
      fc.property(version, (v) => {
        // Free text is taken (IoTaaP's and hawkBit's versions); semver is ordered, other text
        // compared for equality: never refused at check time (docs/decisions.md rows 20-22).
        const { config } = resolveConfig({ device_id: 'd', firmware_version: v });
        const order = compareVersions(v, '1.0.0');
        const same = v === '' || compareVersions(config.firmware_version, v) === 'same';
        return same && (parseVersion(v) === null ? order === (v === '1.0.0' ? 'same' : 'different') : order !== 'different');
      }),
      opts,
    );
  });
});
