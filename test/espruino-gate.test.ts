/**
 * The static gate of the Espruino build (runs in `npm test`, without an interpreter): the built
 * module must parse, and must use nothing Espruino lacks (../shared/notes/espruino.md).
 */
import { parse, type Node } from 'acorn';
import { full } from 'acorn-walk';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { moduleFiles } from './helpers/espruino-module.js';


/** What the module contains that Espruino cannot run, as readable findings. */
export function espruinoFindings(code: string): string[] {
  const found: string[] = [];
  const ast = parse(code, { ecmaVersion: 2022, sourceType: 'script', locations: true }) as Node & { body: Node[] };
  const at = (n: Node) => ' at ' + (n as { loc?: { start: { line: number; column: number } } }).loc?.start.line + ':' + (n as { loc?: { start: { column: number } } }).loc?.start.column;
  const bodies: Node[][] = [ast.body];
  full(ast, (n: any) => {
    if ((n.type === 'FunctionDeclaration' || n.type === 'FunctionExpression' || n.type === 'ArrowFunctionExpression') && n.async) found.push('async function' + at(n));
    if (n.generator) found.push('generator' + at(n));
    if (n.type === 'ObjectPattern' || n.type === 'ArrayPattern') found.push('destructuring' + at(n));
    if (n.type === 'SpreadElement' || n.type === 'RestElement') found.push('spread or rest' + at(n));
    if (n.type === 'AssignmentPattern') found.push('default parameter' + at(n));
    if ((n.type === 'BinaryExpression' || n.type === 'AssignmentExpression') && (n.operator === '**' || n.operator === '**=')) found.push('** operator' + at(n));
    if (n.type === 'ChainExpression') found.push('?. operator' + at(n));
    if (n.type === 'Property' && (n.method || n.computed)) found.push((n.method ? 'method shorthand' : 'computed key') + at(n));
    if (n.type === 'TaggedTemplateExpression') found.push('tagged template' + at(n));
    if (n.type === 'LabeledStatement') found.push('label' + at(n));
    if (n.type === 'PrivateIdentifier') found.push('#private' + at(n));
    if (n.type === 'AwaitExpression' || n.type === 'YieldExpression') found.push(n.type + at(n));
    if (n.type === 'Literal' && n.regex && /\?|\{\d|\(\?:/.test(n.regex.pattern.replace(/\\./g, ''))) found.push('regex quantifier Espruino ignores: /' + n.regex.pattern + '/' + at(n));
    if (n.type === 'NewExpression' && n.callee.type === 'Identifier' && ['Map', 'Set', 'WeakMap', 'WeakSet', 'Proxy'].includes(n.callee.name)) found.push('new ' + n.callee.name + at(n));
    if (n.type === 'Identifier' && ['Symbol', 'Reflect', 'BigInt', 'TextEncoder', 'TextDecoder'].includes(n.name)) found.push(n.name + at(n));
    if (n.type === 'AssignmentExpression' && n.left.type === 'MemberExpression' && !n.left.computed && n.left.property.name === 'length') found.push('assignment to .length' + at(n));
    if (n.type === 'MemberExpression' && !n.computed && n.property.name === 'finally') found.push('Promise.prototype.finally' + at(n));
    if (n.type === 'MemberExpression' && n.object.type === 'Identifier' && n.object.name === 'Number' && ['MAX_SAFE_INTEGER', 'isInteger', 'isSafeInteger'].includes(n.property.name)) found.push('Number.' + n.property.name + at(n));
    if (n.type === 'VariableDeclaration' && n.kind !== 'var') found.push(n.kind + at(n));
    if ((n.type === 'FunctionDeclaration' || n.type === 'FunctionExpression') && n.body.type === 'BlockStatement') bodies.push(n.body.body);
  });
  // No hoisting on Espruino: in every body, function declarations come before anything that runs.
  for (const body of bodies) {
    let ran = false;
    for (const s of body as any[]) {
      if (s.type === 'FunctionDeclaration') {
        if (ran) found.push('function ' + s.id.name + ' declared after code that may use it' + at(s));
      } else if (!(s.type === 'VariableDeclaration' && s.declarations.every((d: any) => d.init === null))) ran = true;
    }
  }
  return found;
}

describe('Espruino build', () => {
  it.each(moduleFiles())('%s has nothing Espruino cannot parse or run, and fits its 32 KB budget', (name) => {
    const code = readFileSync('dist/espruino/' + name + '.js', 'utf8');
    expect(espruinoFindings(code)).toEqual([]);
    // Issue 17: a board holds each file in Storage beside its application (docs/espruino.md).
    expect(code.length).toBeLessThanOrEqual(32 * 1024);
  });

  it('is the module, a check\'s code and what both use', () => {
    expect(moduleFiles().sort()).toEqual(['ota-client', 'ota-client-core', 'ota-client-run']);
    expect(readFileSync('dist/espruino/ota-client.js', 'utf8')).toContain('exports.createUpdater=');
    expect(readFileSync('dist/espruino/ota-client-run.js', 'utf8')).toContain('exports.runCheck=');
  });

  it('catches what it is meant to catch', () => {
    const bad = 'var x = async function(){ const {a} = await f(...b); return a ?? c?.d ** 2; }; var m = new Map(); var r = /a{2}/; g(); function g(){}';
    const found = espruinoFindings(bad).join('; ');
    for (const what of ['async function', 'destructuring', 'spread', '?. operator', '** operator', 'new Map', 'regex quantifier', 'const', 'function g declared after']) expect(found).toContain(what);
  });
});
