import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { AGENT_VERSION, isNewer } from '../src/check/version.js';

it('reports the package version to servers', () => {
  expect(AGENT_VERSION).toBe(JSON.parse(readFileSync('package.json', 'utf8')).version);
});

it('orders versions by semver, pre-releases before their release', () => {
  expect(isNewer('1.0.10', '1.0.9')).toBe(true);
  expect(isNewer('1.0.0', '1.0.0-rc.1')).toBe(true);
  expect(isNewer('1.0.0-rc.2', '1.0.0-rc.10')).toBe(false);
  expect(isNewer('1.0.0', '1.0.0')).toBe(false);
});
