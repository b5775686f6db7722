// Builds the Espruino module, dist/espruino/ota-client.js with its two companion files, from the
// same core sources as the Node build (docs/espruino.md): esbuild bundles src/platform/espruino/index.ts
// with Espruino stand-ins for eventemitter3 and semver, splitting off a check's code
// (ota-client-run.js, loaded from Storage only while a check runs) and the code both use
// (ota-client-core.js); Babel lowers what Espruino cannot parse (async/await to promise chains,
// destructuring, spread, default parameters, ...); terser minifies.
import { transformSync } from '@babel/core';
import { build } from 'esbuild';
import { minify } from 'terser';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const OUT = root + 'dist/espruino/';
const BUDGET = 32 * 1024; // issue 17: what real boards hold beside an application, per file (docs/espruino.md)
/** The files, by their Storage names: the module, a check's code, and the code both use. */
const ENTRIES = { 'ota-client': 'index.ts', 'ota-client-run': 'check-run.ts' };
const CORE = 'ota-client-core';

/**
 * Core modules the Espruino build replaces with its own (`src/platform/espruino/<name>`): the protocol
 * table (native only), the ESP32 image check (no firmware images on Espruino), the transfer
 * stage (whole images only, for now: no delta decoder or gzip in the module), a check's
 * steps (loaded from the file ota-client-run while a check runs), UTC times (the board's own
 * `toISOString`), and what only hawkBit and
 * IoTaaP reach (left-out.ts).
 */
const SUBSTITUTES = {
  'check/select.js': 'protocols.ts',
  'install/esp32-image.js': 'esp32-image.ts',
  'download/transfers.js': 'transfers.ts',
  'updater/check-run.js': 'check-run-loader.ts',
  'text/iso-time.js': 'iso-time.ts',
  // Reached only by hawkBit's and IoTaaP's adapters, which the build leaves out: refused by name.
  'download/legacy-digest.js': 'left-out.ts',
  'updater/consent-wait.js': 'left-out.ts',
  'updater/cancel-watch.js': 'left-out.ts',
  'download/size-probe.js': 'left-out.ts',
};

function espruinoModules() {
  const names = Object.keys(SUBSTITUTES);
  const last = names.map((n) => basename(n).replace(/[./]/g, '\\$&'));
  return {
    name: 'espruino-modules',
    setup(b) {
      b.onResolve({ filter: new RegExp('/(' + last.join('|') + ')$') }, (args) => {
        // The stand-ins themselves import the real modules.
        if (args.importer.indexOf('/src/platform/espruino/') >= 0) return undefined;
        const full = resolve(args.resolveDir, args.path);
        const name = names.find((n) => full.endsWith('/src/' + n));
        return name === undefined ? undefined : { path: root + 'src/platform/espruino/' + SUBSTITUTES[name] };
      });
    },
  };
}

const bundled = await build({
  entryPoints: Object.fromEntries(Object.entries(ENTRIES).map(([name, file]) => [name, root + 'src/platform/espruino/' + file])),
  bundle: true,
  splitting: true,
  chunkNames: CORE,
  outdir: OUT,
  format: 'esm',
  platform: 'neutral',
  target: 'es2019', // keeps async functions for Babel; lowers ?. and ??
  write: false,
  alias: {
    eventemitter3: root + 'src/platform/espruino/emitter.ts',
    'semver/functions/valid.js': root + 'src/platform/espruino/semver.ts',
    'semver/functions/gt.js': root + 'src/platform/espruino/semver-gt.ts',
  },
  external: ['Storage', 'http', 'crypto'], // the board's own modules
  plugins: [espruinoModules()],
  metafile: process.argv.includes('--sizes'),
  logLevel: 'error',
});

/** `local` and exported names of an `export { a, b as c }` list. */
function exportList(text) {
  return text.split(',').map((s) => s.trim()).filter(Boolean).map((n) => {
    const [local, as = local] = n.split(/\s+as\s+/);
    return { local, as };
  });
}

// The shared file's exports get short names (its code is read by the other two files only).
const files = Object.fromEntries(bundled.outputFiles.map((f) => [basename(f.path, '.js'), f.text]));
const short = {};
{
  const m = /export\s*\{([^}]*)\};\s*$/.exec(files[CORE]);
  if (!m) throw new Error('no export list in ' + CORE);
  exportList(m[1]).forEach((e, i) => (short[e.as] = i.toString(36).replace(/^\d/, '_$&')));
}

/**
 * ES module syntax becomes an Espruino module's: `export { x }` becomes `exports.x = x`, and the
 * names imported from the shared file are read from its `exports` where they are used (its
 * functions and classes are set once, when it loads). A copy of each in a variable of its own
 * would cost a board a variable or two per name for as long as the module stays loaded.
 */
function espruinoModule(name, code) {
  const imported = {};
  code = code.replace(/import\s*\{([^}]*)\}\s*from\s*"\.\/([\w-]+)\.js";/g, (all, list, from) => {
    if (from !== CORE) throw new Error(name + ' imports ' + from);
    // esbuild's require shim is Espruino's own require (espruinoFixes), not an import.
    for (const e of exportList(list)) if (e.as !== '__require') imported[e.as] = short[e.local];
    return 'var $core = require("' + CORE + '");';
  });
  if (/^\s*import\b/m.test(code)) throw new Error(name + ': an import is left');
  const m = /export\s*\{([^}]*)\};\s*$/.exec(code);
  if (!m) throw new Error('no export list in ' + name);
  const exported = exportList(m[1]).map((e) => 'exports.' + (name === CORE ? short[e.as] : e.as) + ' = ' + e.local + ';');
  code = code.slice(0, m.index) + exported.join('\n') + '\n';
  if (Object.keys(imported).length === 0) return code;
  const fromCore = ({ types: t }) => ({
    visitor: {
      ReferencedIdentifier(path) {
        const key = imported[path.node.name];
        if (key !== undefined && !path.scope.hasBinding(path.node.name)) path.replaceWith(t.memberExpression(t.identifier('$core'), t.identifier(key)));
      },
    },
  });
  return transformSync(code, { babelrc: false, configFile: false, sourceType: 'script', plugins: [fromCore] }).code;
}

/**
 * Espruino hoists neither `var` nor function declarations: a variable declared in a branch that
 * never ran does not exist, and a function is unknown until its declaration has run. No Babel
 * plugin does this, so: declare every `var` of a function at its top, turn the declarations where
 * they stood into plain assignments, and move function declarations to the top of their body.
 */
function hoistDeclarations({ types: t }) {
  const hoist = (path) => {
    const names = new Set();
    path.traverse({
      Function(inner) {
        inner.skip();
      },
      VariableDeclaration(decl) {
        if (decl.node.kind !== 'var') return;
        for (const d of decl.node.declarations) for (const n of Object.keys(t.getBindingIdentifiers(d.id))) names.add(n);
        const parent = decl.parentPath;
        if ((parent.isForInStatement() || parent.isForOfStatement()) && decl.key === 'left') {
          decl.replaceWith(decl.node.declarations[0].id);
          return;
        }
        const assigns = decl.node.declarations.filter((d) => d.init).map((d) => t.assignmentExpression('=', d.id, d.init));
        const expr = assigns.length === 0 ? null : assigns.length === 1 ? assigns[0] : t.sequenceExpression(assigns);
        if (parent.isForStatement() && decl.key === 'init') decl.replaceWith(expr ?? t.identifier('undefined'));
        else if (expr) decl.replaceWith(t.expressionStatement(expr));
        else decl.remove();
      },
    });
    const body = path.isProgram() ? path : path.get('body');
    const functions = body.get('body').filter((s) => s.isFunctionDeclaration());
    const moved = functions.map((f) => f.node);
    for (const f of functions) f.remove();
    const top = names.size === 0 ? [] : [t.variableDeclaration('var', [...names].map((n) => t.variableDeclarator(t.identifier(n))))];
    if (top.length + moved.length > 0) body.unshiftContainer('body', [...top, ...moved]);
  };
  return {
    visitor: {
      Program: { exit: hoist },
      Function: {
        exit(path) {
          if (t.isBlockStatement(path.node.body)) hoist(path);
        },
      },
    },
  };
}

/**
 * Espruino's Promise adopts a thenable only when `then` is the object's own property: calls to
 * Promise.resolve go through `_adopt`, and the async helpers' Pact objects get their own `then`.
 * esbuild's shim for `require` (which tries Proxy) gives way to Espruino's own `require`.
 */
function espruinoFixes({ types: t, template }) {
  const ADOPT = template.statement.ast(`function _adopt(v) {
    var P = Promise;
    if (v && typeof v.then === "function" && !(v instanceof P)) {
      return new P(function (ok, fail) { v.then(ok, fail); });
    }
    return P.resolve(v);
  }`);
  return {
    visitor: {
      CallExpression(path) {
        if (path.get('callee').matchesPattern('Promise.resolve')) path.node.callee = t.identifier('_adopt');
        if (t.isIdentifier(path.node.callee, { name: '__require' })) path.node.callee = t.identifier('require');
      },
      AssignmentExpression(path) {
        if (t.isIdentifier(path.node.left, { name: '__require' })) path.node.right = t.identifier('undefined');
      },
      VariableDeclarator(path) {
        if (t.isIdentifier(path.node.id, { name: '__require' })) path.node.init = null;
      },
      FunctionDeclaration(path) {
        if (path.node.id && path.node.id.name === '_Pact' && path.node.body.body.length === 0) {
          path.get('body').pushContainer('body', template.statement.ast('this.then = _Pact.prototype.then;'));
        }
      },
      Program: {
        exit(path) {
          path.unshiftContainer('body', ADOPT);
        },
      },
    },
  };
}

/** Babel's lowering and our fixes, for one file. */
function lower(code) {
  const lowered = transformSync(code, {
    babelrc: false,
    configFile: false,
    sourceType: 'script',
    compact: false,
    plugins: [
      ['babel-plugin-transform-async-to-promises', { inlineHelpers: true }],
      '@babel/plugin-transform-class-properties',
      '@babel/plugin-transform-object-rest-spread',
      '@babel/plugin-transform-destructuring',
      '@babel/plugin-transform-parameters',
      '@babel/plugin-transform-spread',
      '@babel/plugin-transform-optional-chaining',
      '@babel/plugin-transform-exponentiation-operator',
      '@babel/plugin-transform-computed-properties',
      '@babel/plugin-transform-shorthand-properties',
      '@babel/plugin-transform-block-scoping',
    ],
  }).code;
  return transformSync(lowered, { babelrc: false, configFile: false, sourceType: 'script', plugins: [espruinoFixes] }).code;
}

/** terser, then the hoisting pass, for one file; returns it minified and formatted. */
async function minifyFile(fixed) {
  // terser compresses further than esbuild's minifier (about 10% of the module); its output is ES5
  // plus what the sources already use, and the passes below make it Espruino's again.
  const minified0 = (await minify(fixed, { ecma: 2019, module: false, toplevel: true, compress: { passes: 2 }, format: { comments: false } })).code;
  // Minifying brings back some `let`: block scoping again, then declarations to the top.
  const scoped = transformSync(minified0, { babelrc: false, configFile: false, sourceType: 'script', compact: true, plugins: ['@babel/plugin-transform-block-scoping'] }).code;
  const hoisted = transformSync(scoped, { babelrc: false, configFile: false, sourceType: 'script', plugins: [hoistDeclarations] }).code;
  const minified = transformSync(hoisted, { babelrc: false, configFile: false, sourceType: 'script', compact: true, minified: true, comments: false }).code;
  return { minified, hoisted };
}

/** The async lowering's helpers (babel-plugin-transform-async-to-promises/helpers.mjs) and espruinoFixes' `_adopt`. */
const HELPERS = new Set(['_Pact', '_settle', '_isSettledPact', '_async', '_await', '_awaitIgnored', '_continue', '_continueIgnored', '_forTo', '_forIn', '_forOwn', '_forOf', '_for', '_do', '_switch', '_call', '_callIgnored', '_invoke', '_invokeIgnored', '_catch', '_finallyRethrows', '_finally', '_rethrow', '_empty', '_earlyReturn', '_adopt']);

/** The helper declarations at the top level of `code`, by name. */
function helpersOf(code) {
  const found = {};
  const collect = ({ types: t }) => ({
    visitor: {
      Program(path) {
        for (const s of path.get('body')) {
          const id = s.isFunctionDeclaration() ? s.node.id : s.isVariableDeclaration() && s.node.declarations.length === 1 ? s.node.declarations[0].id : null;
          if (id && t.isIdentifier(id) && HELPERS.has(id.name)) found[id.name] = s.node;
        }
      },
    },
  });
  transformSync(code, { babelrc: false, configFile: false, sourceType: 'script', code: false, plugins: [collect] });
  return found;
}

/**
 * Each lowered file carries the async helpers it uses, and a board pays about six variables for
 * every function a module defines when it loads: the shared file defines them all once and
 * exports them, and the other two read them from there.
 */
function shareHelpers(lowered) {
  const all = {};
  for (const code of Object.values(lowered)) Object.assign(all, helpersOf(code));
  const key = {};
  Object.keys(all).forEach((n, i) => (key[n] = 'h' + i.toString(36)));
  const out = {};
  for (const [name, code] of Object.entries(lowered)) {
    const plugin = ({ types: t }) => ({
      visitor: {
        Program(path) {
          const own = helpersOf(code);
          if (name === CORE) {
            // The helpers the other files use that this one does not, then all of them exported.
            path.unshiftContainer('body', Object.keys(all).filter((n) => !own[n]).map((n) => t.cloneNode(all[n], true)));
            for (const n of Object.keys(all)) path.pushContainer('body', t.expressionStatement(t.assignmentExpression('=', t.memberExpression(t.identifier('exports'), t.identifier(key[n])), t.identifier(n))));
            return;
          }
          for (const s of path.get('body')) {
            const id = s.isFunctionDeclaration() ? s.node.id : s.isVariableDeclaration() && s.node.declarations.length === 1 ? s.node.declarations[0].id : null;
            if (id && t.isIdentifier(id) && own[id.name]) s.remove();
          }
          path.traverse({
            ReferencedIdentifier(ref) {
              if (key[ref.node.name] !== undefined && !ref.scope.hasBinding(ref.node.name)) ref.replaceWith(t.memberExpression(t.identifier('$core'), t.identifier(key[ref.node.name])));
            },
          });
        },
      },
    });
    out[name] = transformSync(code, { babelrc: false, configFile: false, sourceType: 'script', plugins: [plugin] }).code;
  }
  return out;
}

mkdirSync(OUT, { recursive: true });
for (const f of readdirSync(OUT)) if (f.endsWith('.js')) rmSync(OUT + f);
const shared = shareHelpers(Object.fromEntries(Object.keys(files).map((name) => [name, lower(espruinoModule(name, files[name]))])));
const report = [];
for (const name of Object.keys(shared)) {
  const { minified, hoisted } = await minifyFile(shared[name]);
  writeFileSync(OUT + name + '.js', minified);
  // The same file unminified, for reading stack traces from a board.
  writeFileSync(OUT + name + '.debug.js', hoisted);
  report.push(name + '.js ' + minified.length + ' bytes' + (minified.length > BUDGET ? ', over the ' + BUDGET + '-byte budget' : ''));
}
console.log('espruino: dist/espruino/ ' + report.join(', '));
if (bundled.metafile) {
  // `--sizes`: each source module's share of each file, as esbuild prints it before the lowering
  // (which adds about a quarter: the async functions become promise chains).
  for (const [out, o] of Object.entries(bundled.metafile.outputs)) {
    console.log(basename(out) + ' (' + o.bytes + ' bytes before lowering)');
    for (const [src, v] of Object.entries(o.inputs).sort((a, b) => b[1].bytesInOutput - a[1].bytesInOutput)) {
      if (v.bytesInOutput > 0) console.log('  ' + String(v.bytesInOutput).padStart(6) + ' ' + src.replace(/^(\.\.\/)*/, ''));
    }
  }
}
