import { cp } from 'node:fs/promises';
import { defineConfig } from 'tsup';

export default defineConfig([
  {
    entry: { index: 'src/index.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    shims: true, // import.meta.url in the CommonJS build (src/platform/node/transport.ts loads axios with it)
    // The console page's plain files, beside the bundles that serve them (src/server/console-assets.ts).
    onSuccess: () => cp('src/server/console', 'dist/console', { recursive: true }),
  },
  {
    entry: { cli: 'src/cli/main.ts' },
    format: ['esm'],
    sourcemap: true,
    target: 'node20',
  },
]);
