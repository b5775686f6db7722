import { build } from 'esbuild';
const root = '/tmp/w17b/';
const SUBSTITUTES = { 'check/select.js': 'protocols.ts', 'install/esp32-image.js': 'esp32-image.ts', 'download/transfers.js': 'transfers.ts', 'updater/check-run.js': 'check-run-loader.ts' };
const names = Object.keys(SUBSTITUTES);
const plugin = { name: 'x', setup(b) { b.onResolve({ filter: new RegExp('(' + names.map((n) => n.split('/')[1].replace(/[./]/g, '\\$&')).join('|') + ')$') }, async (args) => { if (args.importer.indexOf('/src/platform/espruino/') >= 0) return undefined; const full = (await import('node:path')).resolve(args.resolveDir, args.path); const n = names.find((n) => full.endsWith('/src/' + n)); if (!n) return undefined; return { path: root + 'src/platform/espruino/' + SUBSTITUTES[n] }; }); } };
const r = await build({ entryPoints: {'ota-client': root + 'src/platform/espruino/index.ts', 'ota-client-run': root+'src/platform/espruino/check-run.ts'}, splitting: true, chunkNames: 'ota-client-core', outdir: '/v', bundle: true, format: 'esm', platform: 'neutral', target: 'es2019', write: false, metafile: true, minify: process.argv[2]==='min',
  alias: { eventemitter3: root + 'src/platform/espruino/emitter.ts', 'semver/functions/valid.js': root + 'src/platform/espruino/semver.ts', 'semver/functions/gt.js': root + 'src/platform/espruino/semver-gt.ts' },
  external: ['Storage', 'http', 'crypto'], plugins: [plugin], logLevel: 'error' });
for (const f of r.outputFiles) { console.log('=====', f.path, f.text.length); }
for (const [o, v] of Object.entries(r.metafile.outputs)) { console.log('#', o, v.bytes); for (const [k, w] of Object.entries(v.inputs).sort((a,b)=>b[1].bytesInOutput-a[1].bytesInOutput)) console.log(String(w.bytesInOutput).padStart(7), k.replace(root,'')); }
if (process.argv[2]==='show') for (const f of r.outputFiles) { const t=f.text; console.log('-----', f.path); console.log(t.split('\n').filter(l=>/^(import|export)/.test(l)||/^\s+\w+,?$/.test(l)).join('\n').slice(0,3000)); }
