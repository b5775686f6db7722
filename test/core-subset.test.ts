/**
 * The core must stay inside what can be lowered for Espruino (docs/architecture.md): no Node
 * built-ins, no Map/Set/Symbol/generators, no `extends Error`, no regex literals.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(__dirname, '..', 'src');
/** Node-only code: whole folders, and the Node implementations kept beside their interfaces. */
const NODE_ONLY = ['platform/node', 'server', 'cli', 'index.ts', 'install/file-slots.ts', 'boot/current-link.ts', 'boot/uboot-env.ts', 'boot/grub-env.ts', 'boot/loader-tools.ts'];

function coreFiles(dir = SRC): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (NODE_ONLY.includes(relative(SRC, path))) return [];
    if (statSync(path).isDirectory()) return coreFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/** An import of a Node-only module, relative to `file`. */
function importsNodeOnly(file: string, text: string): string | null {
  for (const m of text.matchAll(/from ['"](\.{1,2}\/[^'"]+)['"]/g)) {
    const target = relative(SRC, join(file, '..', m[1]!)).replace(/\.js$/, '.ts');
    if (NODE_ONLY.some((n) => target === n || target.startsWith(n + '/'))) return target;
  }
  return null;
}

const RULES: [string, RegExp][] = [
  ['a Node built-in', /from ['"]node:|require\(['"]node:|from ['"](fs|path|http|https|crypto|os|stream|child_process)['"]/],
  ['Map, Set, WeakMap or Symbol', /\bnew (Map|Set|WeakMap|WeakSet)\b|\bSymbol\b/],
  ['a generator', /function\s*\*|\byield\b/],
  ['a subclass of Error', /class\s+\w+\s+extends\s+Error\b/],
  ['a regular expression', /[=(,:]\s*\/[^/*\s][^/\n]*\/[gimsuy]*[.;,)\s]/],
  ['Promise.prototype.finally', /\.finally\(/],
  ['an assignment to .length (read-only on Espruino)', /\.length\s*=[^=]/],
  ['a built-in Espruino lacks', /Number\.(MAX_SAFE_INTEGER|isInteger|isSafeInteger)|Array\.(from|of)\(|Object\.freeze|Math\.(imul|trunc|log2)|Promise\.(race|allSettled|any)|TextEncoder|TextDecoder/],
];

describe('core subset', () => {
  const files = coreFiles();
  it('covers the core modules', () => {
    expect(files.map((f) => relative(SRC, f)).sort()).toContain('download/downloader.ts');
    expect(files.length).toBeGreaterThan(10);
  });
  for (const file of files) {
    it(relative(SRC, file) + ' uses only the Espruino-lowerable subset', () => {
      const text = readFileSync(file, 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/^\s*\/\/.*$/gm, '');
      for (const [what, rule] of RULES) expect(rule.test(text), relative(SRC, file) + ' uses ' + what).toBe(false);
      expect(importsNodeOnly(file, text), relative(SRC, file) + ' imports a Node-only module').toBeNull();
    });
  }
});
