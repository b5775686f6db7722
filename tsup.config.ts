import { randomUUID } from 'node:crypto';
import { cp } from 'node:fs/promises';
import { defineConfig, type Options } from 'tsup';

// Versions are compared by the regex-free comparator the Espruino build uses (checked against
// node-semver, its fixtures and a differential property by test/espruino-semver.test.ts): the
// semver package costs ~12 ms of CPU and 1 MiB to load, a tenth of an up-to-date check.
const semverStandIn: Options['esbuildOptions'] = (o) => {
  o.alias = {
    'semver/functions/valid.js': './src/platform/espruino/semver.ts',
    'semver/functions/gt.js': './src/platform/espruino/semver-gt.ts',
  };
};

export default defineConfig([
  {
    entry: { index: 'src/index.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    shims: true, // import.meta.url in the CommonJS build (src/platform/node/transport.ts loads axios with it)
    esbuildOptions: semverStandIn,
    // The console page's plain files, beside the bundles that serve them (src/server/console-assets.ts).
    onSuccess: () => cp('src/server/console', 'dist/console', { recursive: true }),
  },
  {
    // One CommonJS file: Node loads it ~15 ms faster than the same code as ES modules (and ~3 ms
    // more with its two small dependencies inside), of ~50 ms that an up-to-date `ota device --once`
    // cost beyond `node -e 0`. The commands a device does not run (serve, publish, keygen, run)
    // stay unevaluated until called. `ota` is the entry (cli.cjs), which compiles the bundle
    // (ota-cli.cjs) with V8's code cache; the id on the first line tells a cache made for this
    // build from one made for an earlier build of the same length (src/cli/entry.ts).
    entry: { cli: 'src/cli/entry.ts', 'ota-cli': 'src/cli/main.ts' },
    banner: { js: '// ota build ' + randomUUID() },
    format: ['cjs'],
    // Without white space the bundle's source, which V8 keeps for the functions it compiles lazily,
    // is 240 KB instead of 320 KB (an idle agent ~0.5 MiB smaller); names stay, and the .map file
    // gives stack traces their lines (node --enable-source-maps).
    esbuildOptions: (o, context) => {
      semverStandIn!(o, context);
      o.minifyWhitespace = true;
      o.minifySyntax = true;
    },
    noExternal: ['eventemitter3', 'crc-32'],
    sourcemap: true,
    target: 'node20',
    shims: true,
  },
]);
