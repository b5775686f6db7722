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
    // stay unevaluated until called.
    entry: { cli: 'src/cli/main.ts' },
    format: ['cjs'],
    noExternal: ['eventemitter3', 'crc-32'],
    sourcemap: true,
    target: 'node20',
    shims: true,
    esbuildOptions: semverStandIn,
  },
]);
