// wgjs:host-only — part of the device build (scripts/build.ts), never bundled.
/**
 * Which property names the device build may shorten (esbuild `mangleProps`). On Espruino every
 * property name is a variable (12–16 bytes on a board, holding about 4 characters; longer names
 * take extension variables), once per class prototype for a method and once per instance for a
 * field, so `hasPrecomputedHandshake` costs 3 variables where `a` costs 1.
 *
 * A name is shortened only when the TypeScript checker proves that every place in the bundled
 * sources that names it — `x.name`, a class member, an object literal key — refers to a member of
 * one of our own classes, and
 *  - no string literal anywhere in the sources spells it (dynamic access, `'name' in o`);
 *  - it is not a public member of a class in packages/core/src (tests reach the bundled engine,
 *    Noise and HandshakeState through `wgjs._core` in the all-dialect build and use that API);
 *  - it is not the name of a member of a built-in (Array, typed arrays, String, Object, Promise,
 *    …, Espruino's `E`, Serial, Storage): a property access on `any` never resolves to our
 *    classes, so such names are excluded by the first rule already; this list is a second guard.
 * Interface and type-literal members (the config, events, status, the native module, the
 * crypto provider, engine options) are never class members, so they keep their names.
 *
 * esbuild renames consistently across the bundle, so what remains visible outside it — the `wgjs`
 * API, the printed events, the config JSON, the native module — is unchanged.
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { REPO_ROOT } from './check-device.js';

const CORE_SRC = path.join(REPO_ROOT, 'packages/core/src') + path.sep;

/** Names of built-ins and Espruino APIs that must never be renamed (a second guard, see above). */
function builtinNames(): Set<string> {
  const out = new Set<string>();
  const add = (o: unknown): void => {
    for (let p = o; p; p = Object.getPrototypeOf(p)) for (const k of Object.getOwnPropertyNames(p)) out.add(k);
  };
  for (const o of [Object, Array, String, Number, Boolean, Math, JSON, Promise, Date, Function, Error, RegExp, ArrayBuffer, DataView,
    Uint8Array, Int8Array, Uint16Array, Int16Array, Uint32Array, Int32Array, Float32Array, Float64Array, globalThis, console]) {
    add(o);
    if (typeof o === 'function' && o.prototype) add(o.prototype);
  }
  add([]);
  add('');
  add(new Uint8Array(0));
  // Espruino: E, Serial, Storage, process, pins, timers, modules.
  for (const k of ['E', 'hwRand', 'toUint8Array', 'toString', 'convolve', 'getSizeOf', 'CRC32', 'setup', 'write', 'read', 'readJSON',
    'erase', 'list', 'getFree', 'getStats', 'on', 'removeAllListeners', 'emit', 'memory', 'usage', 'free', 'total', 'env', 'VERSION',
    'BOARD', 'require', 'process', 'global', 'getTime', 'setTime', 'digitalWrite', 'digitalRead', 'path', 'tx', 'rx', 'baud']) out.add(k);
  return out;
}

function isClassMember(d: ts.Declaration): boolean {
  return (ts.isPropertyDeclaration(d) || ts.isMethodDeclaration(d) || ts.isGetAccessorDeclaration(d) || ts.isSetAccessorDeclaration(d)) &&
    (ts.isClassDeclaration(d.parent) || ts.isClassExpression(d.parent));
}

function isPublic(d: ts.Declaration): boolean {
  const mods = ts.getCombinedModifierFlags(d);
  return (mods & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) === 0;
}

/**
 * The property names the device bundle built from `files` (its esbuild inputs, absolute paths)
 * may shorten, sorted. Type-checks the files (no output); about a second.
 */
export function mangleableProps(files: string[]): string[] {
  const key = files.map((f) => `${f}@${statSync(f).mtimeMs}`).sort().join('\n');
  let names = cache.get(key);
  if (!names) {
    names = analyse(files);
    cache.set(key, names);
  }
  return names;
}

/** By input files and their modification times: tests build many times in one process. */
const cache = new Map<string, string[]>();

function analyse(files: string[]): string[] {
  const program = ts.createProgram(files, {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    useDefineForClassFields: false,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  });
  const checker = program.getTypeChecker();
  const wanted = new Set(files.map((f) => path.resolve(f)));
  const candidates = new Set<string>();
  const refused = builtinNames();

  /** Every name-position use must resolve to a class member of ours; else the name is refused. */
  const use = (name: ts.Node, text: string): void => {
    const sym = checker.getSymbolAtLocation(name);
    const decls = sym?.declarations ?? [];
    if (!decls.length) {
      refused.add(text);
      return;
    }
    for (const d of decls) {
      const f = path.resolve(d.getSourceFile().fileName);
      if (!wanted.has(f) || !isClassMember(d)) {
        refused.add(text);
        return;
      }
      // The all-dialect build's `_core` hook hands core classes to tests: keep their public API.
      if (f.startsWith(CORE_SRC) && isPublic(d)) {
        refused.add(text);
        return;
      }
    }
  };

  for (const sf of program.getSourceFiles()) {
    if (!wanted.has(path.resolve(sf.fileName))) continue;
    const visit = (n: ts.Node): void => {
      if (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) refused.add(n.text);
      else if (ts.isTemplateHead(n) || ts.isTemplateMiddle(n) || ts.isTemplateTail(n)) refused.add(n.text);
      else if (isClassMember(n as ts.Declaration) && (n as ts.ClassElement).name && ts.isIdentifier((n as ts.ClassElement).name!)) {
        const id = (n as ts.ClassElement).name as ts.Identifier;
        candidates.add(id.text);
        use(id, id.text);
      } else if (ts.isPropertyAccessExpression(n) && ts.isIdentifier(n.name)) {
        use(n.name, n.name.text);
      } else if (ts.isPropertyAssignment(n) || ts.isShorthandPropertyAssignment(n) || ts.isPropertySignature(n) ||
        ts.isMethodSignature(n) || (ts.isMethodDeclaration(n) && ts.isObjectLiteralExpression(n.parent))) {
        if (n.name && (ts.isIdentifier(n.name) || ts.isStringLiteral(n.name))) refused.add(n.name.text);
      } else if (ts.isElementAccessExpression(n) && ts.isStringLiteralLike(n.argumentExpression)) {
        refused.add(n.argumentExpression.text);
      } else if (ts.isPrivateIdentifier(n)) {
        refused.add(n.text);
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return [...candidates].filter((n) => !refused.has(n)).sort();
}

/** Method names the runtime may call without the code naming them. */
const IMPLICIT = new Set(['constructor', 'toString', 'valueOf', 'toJSON', 'then', 'inspect']);

/** The member names of interface `name` in the TypeScript source `file` (e.g. the `wgjs` API). */
export function interfaceMembers(file: string, name: string): Set<string> {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const out = new Set<string>();
  sf.forEachChild((n) => {
    if (!ts.isInterfaceDeclaration(n) || n.name.text !== name) return;
    for (const m of n.members) if (m.name && ts.isIdentifier(m.name)) out.add(m.name.text);
  });
  if (!out.size) throw new Error(`no interface ${name} in ${file}`);
  return out;
}

/**
 * Removes class methods nothing in the bundle can call: a method is kept when its name appears
 * anywhere in the bundle as a property access, an object key or a string (so `o.m()`,
 * `super.m()`, `o['m']` and names passed around as strings all keep it). Repeated until nothing
 * changes (a method only called by removed ones goes too). Only for builds nothing outside uses
 * by method name: not with the `wgjs._core` hook, which hands classes to tests. `keep`: names
 * called from outside the bundle (the `wgjs` API, see `interfaceMembers`).
 * Returns the new code and the names removed.
 */
export function pruneDeadMethods(code: string, keep?: Set<string>): { code: string; pruned: string[] } {
  const pruned: string[] = [];
  for (let round = 0; round < 10; round++) {
    const sf = ts.createSourceFile('wgjs.js', code, ts.ScriptTarget.ES2020, true, ts.ScriptKind.JS);
    const used = new Set<string>();
    const methods: { name: string; start: number; end: number }[] = [];
    const visit = (n: ts.Node): void => {
      if (ts.isMethodDeclaration(n) && (ts.isClassDeclaration(n.parent) || ts.isClassExpression(n.parent)) && ts.isIdentifier(n.name) && n.body) {
        methods.push({ name: n.name.text, start: n.getStart(sf), end: n.end });
        // The method's own name is not a use; its body is searched like everything else.
        n.parameters.forEach(visit);
        visit(n.body);
        return;
      }
      if (ts.isPropertyAccessExpression(n)) used.add(n.name.text);
      else if ((ts.isPropertyAssignment(n) || ts.isShorthandPropertyAssignment(n) || ts.isMethodDeclaration(n) ||
        ts.isGetAccessorDeclaration(n) || ts.isSetAccessorDeclaration(n) || ts.isPropertyDeclaration(n)) && n.name && !ts.isComputedPropertyName(n.name)) {
        used.add(n.name.getText(sf).replace(/^['"]|['"]$/g, ''));
      } else if (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n) || ts.isTemplateHead(n) || ts.isTemplateMiddle(n) || ts.isTemplateTail(n)) {
        used.add(n.text);
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
    const dead = methods.filter((m) => !used.has(m.name) && !IMPLICIT.has(m.name) && !(keep && keep.has(m.name)));
    if (!dead.length) break;
    for (const m of dead.sort((a, b) => b.start - a.start)) {
      code = code.substring(0, m.start) + code.substring(m.end);
      pruned.push(m.name);
    }
  }
  return { code, pruned };
}

/**
 * Inlines the bundle's top-level numeric constants (`var a=16,b=-1`): on Espruino each is a
 * variable for as long as the code runs. esbuild inlines constants only from modules without
 * imports, so the engine's, the keepalive's and the probe's stay variables otherwise. A constant
 * is inlined only if no reference to it writes it and every reference comes after its declaration
 * (so none can read it before it is set); references are resolved by the TypeScript binder, so a
 * nested variable of the same (minified) name is never touched. Returns the new code and the
 * number of constants inlined.
 */
export function inlineConstants(code: string): { code: string; inlined: number } {
  const name = 'wgjs.js';
  const sf = ts.createSourceFile(name, code, ts.ScriptTarget.ES2020, true, ts.ScriptKind.JS);
  const host = ts.createCompilerHost({ allowJs: true, noLib: true, noResolve: true });
  host.getSourceFile = (f) => (f === name ? sf : undefined);
  const program = ts.createProgram({ rootNames: [name], options: { allowJs: true, noLib: true, noResolve: true, types: [] }, host });
  const checker = program.getTypeChecker();
  // The IIFE's body: (()=>{ ... })();
  const st = sf.statements[0];
  let body: ts.NodeArray<ts.Statement> | null = null;
  if (st && ts.isExpressionStatement(st) && ts.isCallExpression(st.expression)) {
    let f: ts.Expression = st.expression.expression;
    while (ts.isParenthesizedExpression(f)) f = f.expression;
    if ((ts.isArrowFunction(f) || ts.isFunctionExpression(f)) && ts.isBlock(f.body)) body = f.body.statements;
  }
  if (!body) return { code, inlined: 0 };
  const consts = new Map<ts.Symbol, { decl: ts.VariableDeclaration; text: string; ok: boolean; refs: ts.Identifier[] }>();
  for (const s of body) {
    if (!ts.isVariableStatement(s)) continue;
    for (const d of s.declarationList.declarations) {
      const init = d.initializer;
      if (!init || !ts.isIdentifier(d.name)) continue;
      let text: string | null = null;
      if (ts.isNumericLiteral(init)) text = init.text === String(Number(init.text)) ? init.getText(sf) : null;
      else if (ts.isPrefixUnaryExpression(init) && init.operator === ts.SyntaxKind.MinusToken && ts.isNumericLiteral(init.operand)) text = `(-${init.operand.getText(sf)})`;
      const sym = text ? checker.getSymbolAtLocation(d.name) : undefined;
      if (sym && text) consts.set(sym, { decl: d, text, ok: true, refs: [] });
    }
  }
  const visit = (n: ts.Node): void => {
    if (ts.isIdentifier(n)) {
      const sym = checker.getSymbolAtLocation(n);
      const c = sym ? consts.get(sym) : undefined;
      if (c && n !== c.decl.name) {
        const p = n.parent;
        const write = (ts.isBinaryExpression(p) && p.left === n && p.operatorToken.kind >= ts.SyntaxKind.FirstAssignment && p.operatorToken.kind <= ts.SyntaxKind.LastAssignment) ||
          ((ts.isPrefixUnaryExpression(p) || ts.isPostfixUnaryExpression(p)) && (p.operator === ts.SyntaxKind.PlusPlusToken || p.operator === ts.SyntaxKind.MinusMinusToken)) ||
          ((ts.isForInStatement(p) || ts.isForOfStatement(p)) && p.initializer === n) || ts.isVariableDeclaration(p);
        if (write || n.getStart(sf) < c.decl.end) c.ok = false;
        else c.refs.push(n);
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  // Edits, applied from the end: references, then the declarations.
  const edits: { start: number; end: number; text: string }[] = [];
  let inlined = 0;
  const removed = new Set<ts.VariableDeclaration>();
  for (const c of consts.values()) {
    if (!c.ok) continue;
    inlined++;
    removed.add(c.decl);
    for (const r of c.refs) {
      const p = r.parent;
      let t = c.text;
      if (ts.isShorthandPropertyAssignment(p)) t = `${r.text}:${c.text}`;
      else if (ts.isPropertyAccessExpression(p) && p.expression === r && !t.startsWith('(')) t = `(${t})`;
      edits.push({ start: r.getStart(sf), end: r.end, text: t });
    }
  }
  for (const s of body) {
    if (!ts.isVariableStatement(s)) continue;
    const ds = s.declarationList.declarations;
    const keep = ds.filter((d) => !removed.has(d));
    if (keep.length === ds.length) continue;
    const kw = s.declarationList.flags & ts.NodeFlags.Const ? 'const' : s.declarationList.flags & ts.NodeFlags.Let ? 'let' : 'var';
    // Declarations being kept may hold references being inlined: rebuild their text with those edits.
    const text = keep.length ? `${kw} ${keep.map((d) => applyEdits(code, d.getStart(sf), d.end, edits)).join(',')};` : '';
    for (let i = edits.length - 1; i >= 0; i--) if (edits[i]!.start >= s.getStart(sf) && edits[i]!.end <= s.end) edits.splice(i, 1);
    edits.push({ start: s.getStart(sf), end: s.end, text });
  }
  return { code: applyEdits(code, 0, code.length, edits), inlined };
}

/** `code[start, end)` with the edits that fall inside it applied. */
function applyEdits(code: string, start: number, end: number, edits: { start: number; end: number; text: string }[]): string {
  const inside = edits.filter((e) => e.start >= start && e.end <= end).sort((a, b) => a.start - b.start);
  let out = '';
  let at = start;
  for (const e of inside) {
    out += code.substring(at, e.start) + e.text;
    at = e.end;
  }
  return out + code.substring(at, end);
}
