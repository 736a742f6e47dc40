/**
 * Device-code subset check: the engine (`packages/core/src`) and the Espruino driver
 * (`packages/espruino/src`) must run on the Espruino interpreter, which breaks on much of modern
 * JavaScript (see shared/ESPRUINO.md). CI cannot run Espruino, so this check is what keeps the
 * device path honest:
 *
 *  1. a lint of the TypeScript sources (ESLint flat config, typescript-eslint parser) that rejects
 *     every construct and built-in Espruino lacks or gets wrong, with a message saying why;
 *  2. an esbuild bundle of the device entry points, built so that features Espruino lacks fail the
 *     build instead of being lowered into helper code, followed by an AST scan of the minified
 *     output for anything that lowering or a dependency brought back in (`Math.pow`, `Symbol`,
 *     `WeakMap`, `Object.prototype`, …).
 *
 * CLI: `tsx scripts/check-device.ts [--lint-only | --bundle-only] [entry.ts ...]`
 * (`pnpm --filter @wgjs/espruino check`). Exits 1 with a file:line report on any violation.
 */
import { builtinModules } from 'node:module';
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';
import { ESLint, Linter } from 'eslint';
import type { Rule, Scope } from 'eslint';
import tseslint from 'typescript-eslint';

/** Repository root (this file is packages/espruino/scripts/check-device.ts). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** Directories whose TypeScript runs on the device. */
export const DEVICE_SOURCE_DIRS = [
  path.join(REPO_ROOT, 'packages/core/src'),
  path.join(REPO_ROOT, 'packages/espruino/src'),
];

/** A file whose first lines contain this comment is host-only: not linted, and may not be bundled. */
export const HOST_ONLY_MARKER = '// wgjs:host-only';
const HOST_ONLY_SCAN_LINES = 10;

/**
 * Rule profile. `engine` (packages/core/src) is sans-I/O: no clock, timers, module loading or
 * process. `driver` (packages/espruino/src) talks to the Espruino runtime, so it may use the
 * timers, `Date`, `require` and `process` that Espruino has; the language rules are the same.
 */
export type Profile = 'engine' | 'driver';

/** One violation, from the source lint or the bundle check. */
export interface Violation {
  /** Source file, or `bundle:<entry>` for a finding in the minified bundle. */
  file: string;
  line: number;
  column: number;
  /** ESLint rule id, `esbuild`, or `bundle-scan`. */
  rule: string;
  /** What is wrong on Espruino and how to fix it. */
  message: string;
  /** For bundle findings: the minified code around the offending token. */
  context?: string;
}

// ---------------------------------------------------------------------------------------------
// Rule tables
// ---------------------------------------------------------------------------------------------

interface SyntaxBan { selector: string; message: string }

const BUILTIN_CLASSES =
  'Error|TypeError|RangeError|SyntaxError|ReferenceError|EvalError|URIError|AggregateError|' +
  'Array|Map|Set|WeakMap|WeakSet|Promise|RegExp|Function|Object|String|Number|Boolean|Date|' +
  'ArrayBuffer|SharedArrayBuffer|DataView|Int8Array|Uint8Array|Uint8ClampedArray|Int16Array|' +
  'Uint16Array|Int32Array|Uint32Array|Float32Array|Float64Array|BigInt64Array|BigUint64Array|' +
  'EventTarget|Symbol|Proxy';
const TYPED_ARRAYS =
  'Array|Int8Array|Uint8Array|Uint8ClampedArray|Int16Array|Uint16Array|Int32Array|Uint32Array|' +
  'Float32Array|Float64Array';

/** Syntax Espruino cannot parse or runs wrongly. Applies to sources and to the minified bundle. */
const SYNTAX_BANS: SyntaxBan[] = [
  {
    selector: 'ObjectPattern, ArrayPattern',
    message: 'Destructuring (any form) is a syntax error on Espruino: read the properties/elements one at a time.',
  },
  {
    selector: 'AssignmentPattern',
    message: 'Default values (parameters or destructuring) are a syntax error on Espruino: test `x === undefined` in the body instead.',
  },
  {
    selector: 'RestElement',
    message: 'Rest parameters/elements are a syntax error on Espruino: take an array parameter (or read `arguments`).',
  },
  {
    selector: 'SpreadElement',
    message: 'Spread (array, call or object) is a syntax error on Espruino: copy with a loop or `.set()`, merge with Object.assign, pass arguments explicitly.',
  },
  {
    selector: 'FunctionDeclaration[generator=true], FunctionExpression[generator=true], YieldExpression',
    message: 'Generators (`function*`, `yield`) do not exist on Espruino, nor the iterator protocol: write an explicit loop or callback.',
  },
  {
    selector: ':matches(FunctionDeclaration, FunctionExpression, ArrowFunctionExpression)[async=true], AwaitExpression, ForOfStatement[await=true]',
    message: 'async/await is a syntax error on Espruino: use Promise `.then()` chains or callbacks.',
  },
  {
    selector: 'LabeledStatement',
    message: 'Labelled statements (`label: for …`, `break label`) are not supported by Espruino: use a flag, or move the inner loop into a function and return.',
  },
  {
    selector: "BinaryExpression[operator='**'], AssignmentExpression[operator='**=']",
    message: '`**`/`**=` is a syntax error on Espruino, and esbuild lowers it to Math.pow, which Espruino computes inexactly (Math.pow(2,32) is off): use a literal or multiplication.',
  },
  {
    selector: 'ChainExpression',
    message: 'Optional chaining `?.` is a syntax error on Espruino: test `x != null` explicitly.',
  },
  {
    selector: "AssignmentExpression[operator=/^(\\?\\?|\\|\\||&&)=$/]",
    message: 'Logical assignment (`??=`, `||=`, `&&=`) is a syntax error on Espruino: write `if (x == null) x = …` (`??` itself is fine).',
  },
  {
    selector: 'TaggedTemplateExpression',
    message: 'Tagged templates are a syntax error on Espruino (and esbuild lowers them with Object.freeze, which Espruino lacks): call a function with plain arguments. Untagged templates are fine.',
  },
  {
    selector: 'PrivateIdentifier',
    message: '`#private` members are a syntax error on Espruino (esbuild lowers them to WeakMap/WeakSet, which Espruino lacks): use a TypeScript `private` member.',
  },
  {
    selector: 'PropertyDefinition[value]',
    message: 'Class fields with initialisers are a syntax error on Espruino: declare the field with its type only and assign it in the constructor (static: assign after the class).',
  },
  {
    selector: 'StaticBlock',
    message: 'Class static blocks are a syntax error on Espruino: assign static members after the class.',
  },
  {
    selector: 'AccessorProperty, TSAbstractAccessorProperty, Decorator',
    message: 'Decorators and `accessor` fields lower to helper code that needs Symbol/WeakMap/Reflect, which Espruino lacks: write plain methods and getters.',
  },
  {
    selector: `:matches(ClassDeclaration, ClassExpression)[superClass.type='Identifier'][superClass.name=/^(${BUILTIN_CLASSES})$/]`,
    message: 'Espruino cannot subclass built-ins (`class X extends Error`, Array, Uint8Array, … fails): extend your own class, wrap the built-in in a member, or throw a plain Error.',
  },
  {
    selector: 'Literal[bigint]',
    message: 'BigInt does not exist on Espruino: keep 64-bit values as two uint32 halves, or as a double capped at 2^53.',
  },
  {
    selector: 'ObjectExpression > Property[computed=true], MethodDefinition[computed=true], PropertyDefinition[computed=true]',
    message: 'Computed property keys (`{[k]: v}`, `[k]() {}`) are a syntax error on Espruino: create the object, then assign `o[k] = v`.',
  },
  {
    selector: 'ImportExpression',
    message: 'Dynamic `import()` does not exist on Espruino (esbuild lowers it to require/Promise helpers): import statically.',
  },
  {
    selector: "MetaProperty[meta.name='import']",
    message: '`import.meta` does not exist on Espruino (esbuild replaces it with an empty object): pass the value in.',
  },
  {
    selector: "MetaProperty[meta.name='new']",
    message: '`new.target` is not supported on Espruino (esbuild cannot lower it either): pass a flag to the constructor.',
  },
  {
    selector: "ExpressionStatement[directive='use strict']",
    message: "Espruino has no strict mode: 'use strict' changes nothing there, so device code must not rely on strict-mode behaviour.",
  },
  {
    selector: `MemberExpression[object.type='Identifier'][object.name=/^(${BUILTIN_CLASSES})$/][property.name='prototype']`,
    message: "Espruino's built-in methods are not reachable through prototypes (`Array.prototype.slice` is undefined): call the method on an instance.",
  },
  {
    selector: `MemberExpression[object.type='Identifier'][object.name=/^(${TYPED_ARRAYS})$/][property.name=/^(from|of)$/]`,
    message: '`Array.from/of` and `Uint8Array.from/of` (any typed array) do not exist on Espruino: allocate with `new Uint8Array(n)` and fill it with a loop or `.set()`.',
  },
];

/** TypeScript-only syntax that compiles to code Espruino cannot run. Sources only. */
const TS_SYNTAX_BANS: SyntaxBan[] = [
  {
    selector: 'TSImportEqualsDeclaration, TSExportAssignment',
    message: '`import x = require()` / `export =` compile to CommonJS interop helpers that Espruino does not provide: use ES import/export (esbuild bundles them away).',
  },
];

interface GlobalBan { name: string; message: string }

const MISSING = (what: string, fix: string): string => `${what} does not exist on Espruino: ${fix}`;

/** Globals Espruino lacks. Applies to every profile and to the bundle. */
const LANGUAGE_GLOBAL_BANS: GlobalBan[] = [
  ...['Map', 'Set', 'WeakMap', 'WeakSet'].map((name) => ({
    name,
    message: MISSING(name, 'use plain objects keyed by string, arrays, or preallocated typed arrays.'),
  })),
  { name: 'Symbol', message: MISSING('Symbol', 'nor does the iterator protocol built on it; use plain properties and index loops.') },
  { name: 'BigInt', message: MISSING('BigInt', 'keep 64-bit values as two uint32 halves, or as a double capped at 2^53.') },
  { name: 'Proxy', message: MISSING('Proxy', 'write explicit accessor methods.') },
  { name: 'Reflect', message: MISSING('Reflect', 'use Object.keys/Object.assign or direct property access.') },
  { name: 'TextEncoder', message: MISSING('TextEncoder', 'encode bytes by hand (charCodeAt loop); on the device E.toUint8Array.') },
  { name: 'TextDecoder', message: MISSING('TextDecoder', 'decode bytes by hand (String.fromCharCode loop); on the device E.toString.') },
  { name: 'RangeError', message: MISSING('RangeError', 'throw a plain Error (or TypeError).') },
  { name: 'AggregateError', message: MISSING('AggregateError', 'throw a plain Error.') },
  { name: 'Buffer', message: MISSING("Node's Buffer", 'use Uint8Array and DataView.') },
  { name: 'globalThis', message: 'globalThis exists on Espruino only from 2v22 (older firmware has only `global`): device code should take what it needs as parameters.' },
  { name: 'setImmediate', message: MISSING('setImmediate', 'use setTimeout(f, 0) in the driver.') },
  { name: 'queueMicrotask', message: MISSING('queueMicrotask', 'use Promise.resolve().then(f) or setTimeout(f, 0) in the driver.') },
  { name: 'structuredClone', message: MISSING('structuredClone', 'copy explicitly.') },
  { name: 'WeakRef', message: MISSING('WeakRef', 'hold plain references.') },
  { name: 'FinalizationRegistry', message: MISSING('FinalizationRegistry', 'release resources explicitly.') },
  { name: 'Intl', message: MISSING('Intl', 'format by hand.') },
  { name: 'Atomics', message: MISSING('Atomics', 'Espruino is single-threaded; use plain typed-array access.') },
  { name: 'SharedArrayBuffer', message: MISSING('SharedArrayBuffer', 'use ArrayBuffer.') },
  { name: 'BigInt64Array', message: MISSING('BigInt64Array', 'use pairs of Uint32Array elements.') },
  { name: 'BigUint64Array', message: MISSING('BigUint64Array', 'use pairs of Uint32Array elements.') },
  { name: 'performance', message: MISSING('performance', 'the driver reads getTime() and passes the time in.') },
  { name: 'fetch', message: MISSING('fetch', 'device networking goes through the driver.') },
  { name: 'crypto', message: MISSING('WebCrypto (`crypto.getRandomValues`)', 'take an injected RandomSource (E.hwRand on the device).') },
];

const SANS_IO = 'The engine is sans-I/O and must run unchanged on Espruino';

/** Globals the sans-I/O engine may not touch (the driver may: Espruino has them). */
const ENGINE_GLOBAL_BANS: GlobalBan[] = [
  { name: 'process', message: `${SANS_IO}: Node's process is not there (Espruino's has only memory()/env); take what you need as a parameter.` },
  { name: 'require', message: `${SANS_IO}: use static imports (esbuild bundles them); Espruino's require loads only Espruino modules.` },
  { name: 'Date', message: `${SANS_IO}: time comes in as a \`now\` parameter (the driver reads Espruino's getTime()).` },
  ...['setTimeout', 'setInterval', 'clearTimeout', 'clearInterval'].map((name) => ({
    name,
    message: `${SANS_IO}: the driver owns timers and calls the engine's tick function.`,
  })),
  { name: '__dirname', message: `${SANS_IO}: no file system.` },
  { name: '__filename', message: `${SANS_IO}: no file system.` },
];

interface PropertyBan { object?: string; property: string; message: string }

const mathMissing = (fn: string, fix: string): PropertyBan => ({
  object: 'Math',
  property: fn,
  message: `Math.${fn} does not exist on Espruino (it has no ES2015 Math additions): ${fix}`,
});
const numberMissing = (prop: string, fix: string): PropertyBan => ({
  object: 'Number',
  property: prop,
  message: `Number.${prop} does not exist on Espruino (it has no ES2015 Number statics): ${fix}`,
});

/** Members Espruino lacks or gets wrong. Applies to sources and to the bundle. */
const LANGUAGE_PROPERTY_BANS: PropertyBan[] = [
  {
    property: 'slice',
    message: '`.slice()` is forbidden in device code: on Espruino TypedArray.slice returns a plain Array and ArrayBuffer.slice is missing. Copy with `new Uint8Array(n)` + `.set()`, view with `subarray`, and use `substring` for strings.',
  },
  { property: 'finally', message: 'Promise.prototype.finally does not exist on Espruino: use `.then(f, f)`.' },
  { property: 'flat', message: 'Array.prototype.flat does not exist on Espruino: concatenate with a loop.' },
  { property: 'copyWithin', message: '`.copyWithin()` does not exist on Espruino: `a.set(a.subarray(from, to), at)` (not overlapping) or a loop.' },
  { property: 'flatMap', message: 'Array.prototype.flatMap does not exist on Espruino: use a loop.' },
  {
    object: 'Math',
    property: 'pow',
    message: 'Math.pow is inexact on Espruino (Math.pow(2,32) is not 4294967296): use a literal or multiplication.',
  },
  mathMissing('imul', 'multiply in 16-bit halves: `((a & 0xffff) * b + ((((a >>> 16) * b) & 0xffff) << 16)) | 0`.'),
  mathMissing('clz32', 'count with a shift loop or a small lookup table.'),
  mathMissing('trunc', 'use `x | 0` for int32 values, or `x < 0 ? Math.ceil(x) : Math.floor(x)`.'),
  mathMissing('log2', 'count shifts in a loop.'),
  {
    object: 'Math',
    property: 'sign',
    message: 'Math.sign is missing from Espruino SAVE_ON_FLASH_EXTREME builds (the smallest boards): use `x > 0 ? 1 : x < 0 ? -1 : x`.',
  },
  ...['fround', 'cbrt', 'hypot', 'log10', 'log1p', 'expm1', 'sinh', 'cosh', 'tanh', 'asinh', 'acosh', 'atanh'].map(
    (fn) => mathMissing(fn, 'write the computation out.'),
  ),
  numberMissing('isInteger', 'use `x === Math.floor(x)` (with a finiteness check if needed).'),
  numberMissing('isSafeInteger', 'compare against the literal 9007199254740991.'),
  numberMissing('isNaN', 'use `x !== x`.'),
  numberMissing('isFinite', 'use the global isFinite on a number.'),
  numberMissing('MAX_SAFE_INTEGER', 'use the literal 9007199254740991.'),
  numberMissing('MIN_SAFE_INTEGER', 'use the literal -9007199254740991.'),
  numberMissing('EPSILON', 'use the literal 2.220446049250313e-16.'),
  numberMissing('parseInt', 'use the global parseInt.'),
  numberMissing('parseFloat', 'use the global parseFloat.'),
  { object: 'Object', property: 'freeze', message: 'Object.freeze does not exist on Espruino: leave the object mutable (document it as read-only).' },
  { object: 'Object', property: 'is', message: 'Object.is does not exist on Espruino: use `===` (and `x !== x` for NaN).' },
  { object: 'Object', property: 'getOwnPropertySymbols', message: 'Object.getOwnPropertySymbols does not exist on Espruino (it has no Symbol): use Object.keys.' },
  ...['entries', 'values', 'fromEntries'].map((fn) => ({
    object: 'Object',
    property: fn,
    message: `Object.${fn} is missing from Espruino before ${fn === 'fromEntries' ? '2v17' : '2v14'} and from its SAVE_ON_FLASH builds (small boards): iterate Object.keys() and index the object.`,
  })),
  { object: 'ArrayBuffer', property: 'isView', message: 'ArrayBuffer.isView does not exist on Espruino: test `x instanceof Uint8Array` (or the typed array you expect).' },
  ...['race', 'allSettled', 'any'].map((fn) => ({
    object: 'Promise',
    property: fn,
    message: `Promise.${fn} does not exist on Espruino (only Promise basics): track completion by hand.`,
  })),
  { object: 'crypto', property: 'getRandomValues', message: 'crypto.getRandomValues does not exist on Espruino: take an injected RandomSource (E.hwRand on the device).' },
  { object: 'Error', property: 'captureStackTrace', message: 'Error.captureStackTrace is V8-only and does not exist on Espruino: just throw.' },
];

/** Members the sans-I/O engine may not touch. */
const ENGINE_PROPERTY_BANS: PropertyBan[] = [
  {
    object: 'Math',
    property: 'random',
    message: `${SANS_IO}: Math.random is no cryptographic RNG; use the injected RandomSource (E.hwRand on the device).`,
  },
];

const NODE_BUILTINS = [...new Set(builtinModules.filter((m) => !m.startsWith('_') && !m.startsWith('node:')))];

const NODE_IMPORT_MESSAGE =
  'Node built-in modules do not exist on Espruino (its own modules, such as dgram or Storage, are loaded with its require at run time by the driver).';
const NOBLE_IMPORT_MESSAGE =
  'The device path may not import @noble/*: it does not fit in Espruino memory (see ESPRUINO.md); go through the CryptoProvider instead. Host code that uses noble carries the `// wgjs:host-only` marker.';

/** Explanations appended to messages of rules whose text ESLint does not let us set. */
const RULE_EXPLANATIONS: Record<string, string> = {
  '@typescript-eslint/no-use-before-define':
    'Espruino does not hoist: a function, class or variable does not exist until its declaration has run, even inside functions. Move the declaration above its first use (for mutual recursion, declare a `let` first and assign the function later).',
  'no-loop-func':
    "The function sees the variable's value when it is called, not when it was created (on Espruino even let/const loop-head variables are shared this way): move the function out of the loop and pass the value in.",
  'no-var':
    'On Espruino a `var` exists only once its declaration has run: one declared in a branch that did not run is a ReferenceError. Use let/const.',
};

// ---------------------------------------------------------------------------------------------
// Custom rule: closures over let/const declared in a loop head
// ---------------------------------------------------------------------------------------------

const FUNCTION_TYPES = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression']);

interface TreeNode { type: string; parent?: TreeNode | null; init?: unknown; left?: unknown }

/** The for/for-in/for-of statement whose head declares `decl`, or null. */
function loopOfHead(decl: TreeNode | null | undefined): TreeNode | null {
  const loop = decl?.parent;
  if (!loop) return null;
  if (loop.type === 'ForStatement' && loop.init === decl) return loop;
  if ((loop.type === 'ForInStatement' || loop.type === 'ForOfStatement') && loop.left === decl) return loop;
  return null;
}

/**
 * `no-loop-func` deems `let`/`const` loop variables safe because ES2015 gives each iteration a
 * fresh binding. Espruino does not: a let/const declared in a `for`, `for…in` or `for…of` head is
 * one binding shared by every closure created in the loop (measured: closures over `for (let i…)`
 * all return the last value). Declarations in the loop body do get a fresh binding per iteration
 * there, so they are allowed. Reported once, on the outermost function inside the loop.
 */
const loopClosureRule: Rule.RuleModule = {
  meta: {
    type: 'problem',
    docs: { description: 'Disallow closures over let/const declared in a loop head (Espruino shares them).' },
    schema: [],
    messages: {
      shared:
        "Function created in a loop uses '{{name}}', declared in the loop head: Espruino shares one binding of '{{name}}' across all iterations, so the function sees its last value, not this iteration's. Copy it into a const in the loop body, or move the function out of the loop and pass the value in.",
    },
  },
  create(context) {
    const check = (node: Rule.Node): void => {
      const scope = context.sourceCode.getScope(node);
      const reported = new Set<string>();
      for (const ref of scope.through) {
        const variable: Scope.Variable | null = ref.resolved;
        if (!variable || reported.has(variable.name)) continue;
        if ((ref as { isTypeReference?: boolean }).isTypeReference) continue;
        const def = variable.defs[0];
        if (!def || def.type !== 'Variable') continue;
        const decl = def.parent as unknown as (TreeNode & { kind?: string }) | null;
        if (!decl || (decl.kind !== 'let' && decl.kind !== 'const')) continue;
        const loop = loopOfHead(decl);
        if (!loop) continue;
        // Report only if no other function lies between this one and the loop.
        let direct = false;
        for (let p = (node as unknown as TreeNode).parent; p; p = p.parent) {
          if (p === loop) { direct = true; break; }
          if (FUNCTION_TYPES.has(p.type)) break;
        }
        if (!direct) continue;
        reported.add(variable.name);
        context.report({ node, messageId: 'shared', data: { name: variable.name } });
      }
    };
    return {
      FunctionDeclaration: check,
      FunctionExpression: check,
      ArrowFunctionExpression: check,
    };
  },
};

interface ClassInfo { extendsSomething: boolean; statics: Set<string> }
interface StaticNode {
  type: string;
  static?: boolean;
  computed?: boolean;
  key?: { type: string; name?: string; value?: unknown };
}

function staticKeyName(member: StaticNode): string | null {
  if (!member.static || member.computed || !member.key) return null;
  if (member.key.type === 'Identifier' && member.key.name) return member.key.name;
  if (member.key.type === 'Literal' && typeof member.key.value === 'string') return member.key.value;
  return null;
}

/**
 * Espruino does not inherit static members (measured: `class B extends A {}`, `B.s()` fails with
 * `Function "s" not found` when only A declares `static s()`). Within one file — and, through the
 * bundle scan, across the whole bundled program — reports `Sub.name` reads where `Sub` is a class
 * with a superclass that neither declares a static `name` nor has one assigned (`Sub.name = …`).
 */
const inheritedStaticRule: Rule.RuleModule = {
  meta: {
    type: 'problem',
    docs: { description: 'Disallow reading static members through a subclass (Espruino does not inherit statics).' },
    schema: [],
    messages: {
      inherited:
        "'{{cls}}.{{name}}' reads a static member that '{{cls}}' only inherits: Espruino does not inherit static members, so it is undefined there. Use the class that declares it.",
    },
  },
  create(context) {
    const classes = new Map<string, ClassInfo>();
    const assigned = new Map<string, Set<string>>();
    const reads: { node: Rule.Node; cls: string; name: string }[] = [];
    const record = (name: string, cls: { superClass?: unknown; body: { body: unknown[] } }): void => {
      const statics = new Set<string>();
      for (const member of cls.body.body as StaticNode[]) {
        const key = staticKeyName(member);
        if (key) statics.add(key);
      }
      classes.set(name, { extendsSomething: !!cls.superClass, statics });
    };
    return {
      ClassDeclaration(node) {
        if (node.id) record(node.id.name, node);
      },
      VariableDeclarator(node) {
        if (node.id.type === 'Identifier' && node.init?.type === 'ClassExpression') record(node.id.name, node.init);
      },
      AssignmentExpression(node) {
        const left = node.left;
        if (left.type === 'Identifier' && node.right.type === 'ClassExpression') record(left.name, node.right);
        if (left.type === 'MemberExpression' && left.object.type === 'Identifier' && !left.computed && left.property.type === 'Identifier') {
          let set = assigned.get(left.object.name);
          if (!set) assigned.set(left.object.name, (set = new Set()));
          set.add(left.property.name);
        }
      },
      MemberExpression(node) {
        if (node.object.type !== 'Identifier' || node.computed || node.property.type !== 'Identifier') return;
        const parent = (node as Rule.Node & { parent: { type: string; left?: unknown } }).parent;
        if (parent.type === 'AssignmentExpression' && parent.left === node) return;
        reads.push({ node, cls: node.object.name, name: node.property.name });
      },
      'Program:exit'() {
        for (const read of reads) {
          const info = classes.get(read.cls);
          if (!info || !info.extendsSomething) continue;
          if (read.name === 'prototype' || read.name === 'name' || read.name === 'length') continue;
          if (info.statics.has(read.name) || assigned.get(read.cls)?.has(read.name)) continue;
          context.report({ node: read.node, messageId: 'inherited', data: { cls: read.cls, name: read.name } });
        }
      },
    };
  },
};

/**
 * Espruino does not bind a class expression's own name inside its body (measured:
 * `var a = class b { m() { return typeof b } }` gives "undefined"), and esbuild, when bundling,
 * rewrites a top-level `class P {…}` whose body mentions `P` into `var P = class _P {…}` (minified:
 * `var a = class e {…}`), so every such self-reference is undefined on the device. Reports
 * value references to a class's own name from inside its body, for top-level class declarations
 * and for named class expressions (unless bound to a variable of the same name, which Espruino
 * resolves instead). Class declarations inside functions stay declarations and are fine.
 */
const classSelfReferenceRule: Rule.RuleModule = {
  meta: {
    type: 'problem',
    docs: { description: 'Disallow referring to a class by its own name inside its body (Espruino + esbuild).' },
    schema: [],
    messages: {
      self:
        "'{{name}}' refers to its own class inside the class body: esbuild bundles a top-level class that does this as `var {{name}} = class _{{name}} {…}`, and Espruino does not bind a class expression's own name, so '{{name}}' is undefined on the device. Use `this` in static methods (`new this()`), `this.constructor` in instance methods, or a function declared after the class.",
    },
  },
  create(context) {
    return {
      'Program:exit'() {
        for (const scope of context.sourceCode.scopeManager?.scopes ?? []) {
          if (scope.type !== 'class') continue;
          const variable = scope.variables.find((v) => v.defs[0]?.type === 'ClassName');
          const def = variable?.defs[0];
          if (!variable || !def) continue;
          const cls = def.node as unknown as TreeNode & { id?: { name: string } | null };
          const parent = cls.parent;
          if (cls.type === 'ClassDeclaration') {
            const topLevel =
              parent?.type === 'Program' ||
              ((parent?.type === 'ExportNamedDeclaration' || parent?.type === 'ExportDefaultDeclaration') &&
                parent.parent?.type === 'Program');
            if (!topLevel) continue;
          } else {
            const declarator = parent as (TreeNode & { id?: { type: string; name?: string } }) | null | undefined;
            if (declarator?.type === 'VariableDeclarator' && declarator.id?.type === 'Identifier' && declarator.id.name === variable.name) continue;
          }
          for (const ref of variable.references) {
            const tsRef = ref as { isValueReference?: boolean; isTypeReference?: boolean };
            if (tsRef.isTypeReference || tsRef.isValueReference === false) continue;
            context.report({ node: ref.identifier as unknown as Rule.Node, messageId: 'self', data: { name: variable.name } });
          }
        }
      },
    };
  },
};

const espruinoPlugin = {
  meta: { name: 'wgjs-espruino' },
  rules: {
    'no-loop-closure': loopClosureRule,
    'no-inherited-static': inheritedStaticRule,
    'no-class-self-reference': classSelfReferenceRule,
  },
};

// ---------------------------------------------------------------------------------------------
// Configs
// ---------------------------------------------------------------------------------------------

function syntaxRule(bans: SyntaxBan[]): Linter.RuleEntry {
  return ['error', ...bans];
}
function globalsRule(bans: GlobalBan[]): Linter.RuleEntry {
  return ['error', ...bans];
}
function propertiesRule(bans: PropertyBan[]): Linter.RuleEntry {
  return ['error', ...bans];
}

/** Rules that apply to both TypeScript sources and the minified bundle. */
function languageRules(): Linter.RulesRecord {
  return {
    'no-restricted-syntax': syntaxRule(SYNTAX_BANS),
    'no-restricted-globals': globalsRule(LANGUAGE_GLOBAL_BANS),
    'no-restricted-properties': propertiesRule(LANGUAGE_PROPERTY_BANS),
    'wgjs-espruino/no-loop-closure': 'error',
    'wgjs-espruino/no-inherited-static': 'error',
    'wgjs-espruino/no-class-self-reference': 'error',
    'no-loop-func': 'error',
  };
}

/** ESLint flat config for device-path TypeScript sources of the given profile. */
export function sourceLintConfig(profile: Profile): Linter.Config[] {
  const globals = profile === 'engine' ? [...LANGUAGE_GLOBAL_BANS, ...ENGINE_GLOBAL_BANS] : LANGUAGE_GLOBAL_BANS;
  const properties =
    profile === 'engine' ? [...LANGUAGE_PROPERTY_BANS, ...ENGINE_PROPERTY_BANS] : LANGUAGE_PROPERTY_BANS;
  return [
    {
      files: ['**/*.ts', '**/*.mts', '**/*.cts', '**/*.tsx', '**/*.js', '**/*.mjs'],
      languageOptions: {
        parser: tseslint.parser as Linter.Parser,
        ecmaVersion: 'latest',
        sourceType: 'module',
      },
      linterOptions: { reportUnusedDisableDirectives: 'off' },
      plugins: {
        '@typescript-eslint': tseslint.plugin as unknown as NonNullable<Linter.Config['plugins']>[string],
        'wgjs-espruino': espruinoPlugin,
      },
      rules: {
        ...languageRules(),
        'no-restricted-syntax': syntaxRule([...SYNTAX_BANS, ...TS_SYNTAX_BANS]),
        'no-restricted-globals': globalsRule(globals),
        'no-restricted-properties': propertiesRule(properties),
        'no-restricted-imports': [
          'error',
          {
            paths: NODE_BUILTINS.map((name) => ({ name, message: NODE_IMPORT_MESSAGE })),
            patterns: [
              { group: ['node:*'], message: NODE_IMPORT_MESSAGE },
              { group: [...NODE_BUILTINS.map((name) => `${name}/*`)], message: NODE_IMPORT_MESSAGE },
              { group: ['@noble/*', '@noble/**'], message: NOBLE_IMPORT_MESSAGE },
            ],
          },
        ],
        '@typescript-eslint/no-use-before-define': [
          'error',
          {
            functions: true,
            classes: true,
            variables: true,
            enums: true,
            typedefs: false,
            ignoreTypeReferences: true,
            allowNamedExports: false,
          },
        ],
        'no-var': 'error',
      },
    },
  ];
}

/** Flat config for the AST scan of the minified bundle (plain JavaScript). */
export function bundleScanConfig(): Linter.Config[] {
  return [
    {
      files: ['**/*.js'],
      languageOptions: { ecmaVersion: 'latest', sourceType: 'script' },
      plugins: { 'wgjs-espruino': espruinoPlugin },
      rules: languageRules(),
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// Source lint
// ---------------------------------------------------------------------------------------------

/** True if `source` carries the host-only marker in its first lines. */
export function isHostOnly(source: string): boolean {
  const head = source.split('\n', HOST_ONLY_SCAN_LINES);
  for (const line of head) if (line.trim().startsWith(HOST_ONLY_MARKER)) return true;
  return false;
}

function walkTs(dir: string, out: string[]): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') walkTs(full, out);
    } else if (/\.[cm]?tsx?$/.test(entry.name) && !/\.d\.[cm]?ts$/.test(entry.name)) {
      out.push(full);
    }
  }
}

/** Device-path source files under `dirs`, sorted, without host-only files. */
export function collectDeviceFiles(dirs: string[] = DEVICE_SOURCE_DIRS): string[] {
  const all: string[] = [];
  for (const dir of dirs) walkTs(dir, all);
  return all.filter((file) => !isHostOnly(readFileSync(file, 'utf8'))).sort();
}

/** Engine files (packages/core/src) get the sans-I/O profile; the Espruino driver the driver one. */
export function profileFor(file: string): Profile {
  const rel = path.relative(path.join(REPO_ROOT, 'packages/espruino/src'), path.resolve(file));
  return rel.startsWith('..') || path.isAbsolute(rel) ? 'engine' : 'driver';
}

function commonDir(files: string[]): string {
  let dir = path.dirname(path.resolve(files[0]!));
  for (const file of files) {
    const abs = path.resolve(file);
    while (!(abs + path.sep).startsWith(dir === path.sep ? dir : dir + path.sep)) dir = path.dirname(dir);
  }
  return dir;
}

export interface LintOptions {
  /** Force one profile for every file (default: by path, see `profileFor`). */
  profile?: Profile;
}

/**
 * Lints `files` against the Espruino subset. Returns violations sorted by file and position;
 * an empty array means the files pass. Inline `eslint-disable` comments are ignored.
 */
export async function lintFiles(files: string[], options: LintOptions = {}): Promise<Violation[]> {
  if (files.length === 0) return [];
  const abs = files.map((f) => path.resolve(f));
  const groups: Record<Profile, string[]> = { engine: [], driver: [] };
  for (const file of abs) groups[options.profile ?? profileFor(file)].push(file);
  const violations: Violation[] = [];
  for (const profile of ['engine', 'driver'] as const) {
    const group = groups[profile];
    if (group.length === 0) continue;
    const eslint = new ESLint({
      // Files outside the ESLint cwd are treated as ignored: root it above every file.
      cwd: commonDir(group),
      overrideConfigFile: true,
      overrideConfig: sourceLintConfig(profile),
      allowInlineConfig: false,
      ignore: false,
      errorOnUnmatchedPattern: false,
    });
    const results = await eslint.lintFiles(group);
    for (const result of results) {
      for (const m of result.messages) {
        const rule = m.ruleId ?? (m.fatal ? 'parse-error' : 'eslint');
        const extra = RULE_EXPLANATIONS[rule];
        violations.push({
          file: result.filePath,
          line: m.line,
          column: m.column,
          rule,
          message: extra ? `${m.message} ${extra}` : m.message,
        });
      }
    }
  }
  violations.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.column - b.column));
  return violations;
}

// ---------------------------------------------------------------------------------------------
// Bundle check
// ---------------------------------------------------------------------------------------------

/**
 * esbuild feature overrides for Espruino. Features set to false that esbuild cannot lower make
 * the build fail (destructuring, default/rest arguments, array spread, generators, async, for-await,
 * new.target). Those it lowers turn into Espruino-safe code (`?.` → `== null` tests, `??=`/`||=`
 * → `??`/`||`, optional catch bindings, class fields → constructor assignments given
 * useDefineForClassFields: false) or into helpers the bundle scan rejects (`**` → Math.pow,
 * object spread → Object.getOwnPropertySymbols, `#private` → WeakMap, BigInt literals → BigInt()).
 * Syntax esbuild passes through unchanged (labels, tagged templates, computed keys, `extends
 * Error`) is caught by the scan, and `import.meta` (emptied, with a warning) by treating warnings
 * as violations. The minifier only produces the syntax left enabled: `??` and untagged templates.
 * Measured with esbuild 0.28.2; the lowered forms were run on an Espruino 2v29 Linux build.
 */
export const ESPRUINO_SUPPORTED: Record<string, boolean> = {
  'default-argument': false,
  destructuring: false,
  'nested-rest-binding': false,
  'rest-argument': false,
  'array-spread': false,
  'object-rest-spread': false,
  generator: false,
  'async-await': false,
  'async-generator': false,
  'for-await': false,
  'top-level-await': false,
  bigint: false,
  'optional-chain': false,
  'logical-assignment': false,
  'exponent-operator': false,
  'optional-catch-binding': false,
  'class-field': false,
  'class-static-field': false,
  'class-private-field': false,
  'class-private-method': false,
  'class-private-accessor': false,
  'class-private-brand-check': false,
  'class-private-static-field': false,
  'class-private-static-method': false,
  'class-private-static-accessor': false,
  'class-static-blocks': false,
  decorators: false,
  using: false,
  'new-target': false,
  'import-meta': false,
  'dynamic-import': false,
  'template-literal': true,
  'nullish-coalescing': true,
  'const-and-let': true,
  arrow: true,
  class: true,
  'for-of': true,
};

const NODE_BUILTIN_FILTER = new RegExp(
  `^(${NODE_BUILTINS.map((m) => m.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})(/.*)?$`,
);

/** esbuild plugin: refuses Node built-ins, @noble/* and host-only files on the device path. */
export const deviceGuardPlugin: esbuild.Plugin = {
  name: 'wgjs-device-guard',
  setup(build) {
    const refuse = (why: string) => (args: esbuild.OnResolveArgs): esbuild.OnResolveResult => ({
      errors: [{ text: `"${args.path}" imported by ${args.importer || 'the entry'}: ${why}` }],
    });
    build.onResolve({ filter: /^node:/ }, refuse(NODE_IMPORT_MESSAGE));
    build.onResolve({ filter: NODE_BUILTIN_FILTER }, refuse(NODE_IMPORT_MESSAGE));
    build.onResolve({ filter: /^@noble\// }, refuse(NOBLE_IMPORT_MESSAGE));
    build.onLoad({ filter: /\.[cm]?[jt]sx?$/ }, (args) => {
      if (args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
      if (isHostOnly(readFileSync(args.path, 'utf8'))) {
        return { errors: [{ text: `${args.path} is marked ${HOST_ONLY_MARKER} but is imported by the device path.` }] };
      }
      return undefined;
    });
  },
};

/** esbuild options of the device build; a real device build should use the same. */
export function deviceBuildOptions(): esbuild.BuildOptions {
  return {
    bundle: true,
    format: 'iife',
    minify: true,
    target: 'es2015',
    supported: ESPRUINO_SUPPORTED,
    platform: 'neutral',
    mainFields: ['module', 'main'],
    legalComments: 'none',
    charset: 'ascii',
    // Not TypeScript's ES2022 default: type-only field declarations must vanish instead of
    // becoming defineProperty helpers, and (lint-forbidden) initialisers become `this.x = v`.
    tsconfigRaw: { compilerOptions: { useDefineForClassFields: false, verbatimModuleSyntax: true } },
    plugins: [deviceGuardPlugin],
    absWorkingDir: REPO_ROOT,
    write: false,
    logLevel: 'silent',
  };
}

/** Result of bundling one entry. */
export interface BundleResult {
  /** The entry checked, or `core` for the generated entry over packages/core/src/index.ts. */
  entry: string;
  violations: Violation[];
  /** Minified bundle (empty if the build failed). */
  code: string;
  bytes: number;
  gzipBytes: number;
}

const API_ENTRY_NAME = 'api-entry.ts';

function esbuildViolations(label: string, messages: esbuild.Message[], kind: string): Violation[] {
  return messages.map((m) => ({
    // The generated API entry is esbuild's stdin ('api-entry.ts'): name it by its label.
    file: m.location && m.location.file !== API_ENTRY_NAME ? path.resolve(REPO_ROOT, m.location.file) : label,
    line: m.location?.line ?? 0,
    column: (m.location?.column ?? 0) + 1,
    rule: 'esbuild',
    message: `${kind}: ${m.text}${m.notes.length ? ` (${m.notes.map((n) => n.text).join('; ')})` : ''}`,
  }));
}

function contextAround(code: string, line: number, column: number, width = 50): string {
  let offset = 0;
  for (let l = 1; l < line; l++) {
    const nl = code.indexOf('\n', offset);
    if (nl < 0) break;
    offset = nl + 1;
  }
  offset += column - 1;
  const start = Math.max(0, offset - width);
  const end = Math.min(code.length, offset + width);
  return `${start > 0 ? '…' : ''}${code.substring(start, offset)}⟦${code.substring(offset, end)}${end < code.length ? '…' : ''}`;
}

/**
 * Scans minified bundle text for forbidden syntax, globals and members, on its AST (so text in
 * strings and lookalike identifiers cause no false positives).
 */
export function scanBundleText(code: string, label: string): Violation[] {
  const linter = new Linter({ configType: 'flat' });
  const messages = linter.verify(code, bundleScanConfig(), { filename: 'bundle.js', allowInlineConfig: false });
  return messages.map((m) => ({
    file: `bundle:${label}`,
    line: m.line,
    column: m.column,
    rule: m.ruleId ? `bundle-scan/${m.ruleId}` : 'bundle-scan/parse-error',
    message: m.ruleId && RULE_EXPLANATIONS[m.ruleId] ? `${m.message} ${RULE_EXPLANATIONS[m.ruleId]}` : m.message,
    context: contextAround(code, m.line, m.column),
  }));
}

function gzipSize(code: string): number {
  return gzipSync(Buffer.from(code, 'utf8'), { level: 9 }).length;
}

/**
 * Bundles the public API of module `file`: a generated entry imports every value export by name
 * and keeps it alive, so the bundle holds everything a device program could use (a namespace
 * import would add esbuild's __export getters to the measured size).
 */
export async function checkModuleApi(file: string, label: string = file): Promise<BundleResult> {
  const abs = path.resolve(file);
  if (!existsSync(abs)) {
    return {
      entry: label, code: '', bytes: 0, gzipBytes: 0,
      violations: [{ file: abs, line: 0, column: 0, rule: 'esbuild', message: 'entry does not exist' }],
    };
  }
  // First pass: learn the value exports.
  let names: string[];
  try {
    const probe = await esbuild.build({ ...deviceBuildOptions(), entryPoints: [abs], format: 'esm', minify: false, metafile: true });
    names = Object.values(probe.metafile!.outputs)[0]?.exports ?? [];
  } catch (e) {
    const failure = e as esbuild.BuildFailure;
    if (!failure.errors) throw e;
    return { entry: label, code: '', bytes: 0, gzipBytes: 0, violations: esbuildViolations(label, failure.errors, 'build failed') };
  }
  const spec = JSON.stringify(abs.split(path.sep).join('/'));
  const contents = names.length
    ? `import { ${names.map((n, i) => `${n} as e${i}`).join(', ')} } from ${spec};\n` +
      `declare var __wgjsKeep: unknown;\n__wgjsKeep = [${names.map((_, i) => `e${i}`).join(', ')}];\n`
    : `import ${spec};\n`;
  return bundleWith(label, { stdin: { contents, resolveDir: path.dirname(abs), sourcefile: API_ENTRY_NAME, loader: 'ts' } });
}

async function bundleWith(label: string, input: esbuild.BuildOptions): Promise<BundleResult> {
  let result: esbuild.BuildResult;
  try {
    result = await esbuild.build({ ...deviceBuildOptions(), ...input });
  } catch (e) {
    const failure = e as esbuild.BuildFailure;
    if (!failure.errors) throw e;
    return {
      entry: label, code: '', bytes: 0, gzipBytes: 0,
      violations: [
        ...esbuildViolations(label, failure.errors, 'build failed'),
        ...esbuildViolations(label, failure.warnings ?? [], 'warning'),
      ],
    };
  }
  const code = result.outputFiles![0]!.text;
  return {
    entry: label,
    code,
    bytes: Buffer.byteLength(code, 'utf8'),
    gzipBytes: gzipSize(code),
    violations: [...esbuildViolations(label, result.warnings, 'warning'), ...scanBundleText(code, label)],
  };
}

/**
 * Bundles `entry` for Espruino (see `deviceBuildOptions`) and scans the output. Without an entry,
 * bundles a generated entry that uses every value export of packages/core/src/index.ts.
 * esbuild warnings count as violations.
 */
export async function checkBundle(entry?: string): Promise<BundleResult> {
  if (entry === undefined) return checkModuleApi(path.join(REPO_ROOT, 'packages/core/src/index.ts'), 'core');
  const abs = path.resolve(entry);
  if (!existsSync(abs)) {
    return {
      entry: abs, code: '', bytes: 0, gzipBytes: 0,
      violations: [{ file: abs, line: 0, column: 0, rule: 'esbuild', message: 'entry does not exist' }],
    };
  }
  return bundleWith(abs, { entryPoints: [abs] });
}

/** Default bundle entries: the core API, plus the Espruino device entry once it exists. */
export function defaultEntries(): (string | undefined)[] {
  const device = path.join(REPO_ROOT, 'packages/espruino/src/device.ts');
  return existsSync(device) ? [undefined, device] : [undefined];
}

// ---------------------------------------------------------------------------------------------
// Report and CLI
// ---------------------------------------------------------------------------------------------

function displayPath(file: string): string {
  if (!path.isAbsolute(file)) return file;
  const rel = path.relative(REPO_ROOT, file);
  return rel.startsWith('..') || path.isAbsolute(rel) ? file : rel;
}

/** Human-readable report, one violation per paragraph, paths relative to the repo root. */
export function formatViolations(violations: Violation[]): string {
  return violations
    .map((v) => {
      const file = displayPath(v.file);
      const where = v.line ? `${file}:${v.line}:${v.column}` : file;
      return `${where}  [${v.rule}]\n    ${v.message}${v.context ? `\n    at: ${v.context}` : ''}`;
    })
    .join('\n');
}

export interface CheckSummary {
  ok: boolean;
  files: string[];
  bundles: BundleResult[];
  violations: Violation[];
}

/** Runs the source lint over the device tree and the bundle check over `entries`. */
export async function runCheck(
  options: { entries?: (string | undefined)[]; lint?: boolean; bundle?: boolean } = {},
): Promise<CheckSummary> {
  const files = options.lint === false ? [] : collectDeviceFiles();
  const violations = await lintFiles(files);
  const bundles: BundleResult[] = [];
  if (options.bundle !== false) {
    for (const entry of options.entries ?? defaultEntries()) {
      const result = await checkBundle(entry);
      bundles.push(result);
      violations.push(...result.violations);
    }
  }
  return { ok: violations.length === 0, files, bundles, violations };
}

async function main(argv: string[]): Promise<number> {
  const flags = argv.filter((a) => a.startsWith('--'));
  const unknown = flags.filter((f) => f !== '--lint-only' && f !== '--bundle-only' && f !== '--help');
  if (flags.includes('--help') || unknown.length) {
    process.stdout.write('usage: check-device [--lint-only | --bundle-only] [entry.ts ...]\n');
    return unknown.length ? 2 : 0;
  }
  const base = process.env['INIT_CWD'] ?? process.cwd();
  const positional = argv.filter((a) => !a.startsWith('--')).map((a) => path.resolve(base, a));
  const summary = await runCheck({
    entries: positional.length ? positional : undefined,
    lint: !flags.includes('--bundle-only'),
    bundle: !flags.includes('--lint-only'),
  });
  if (!summary.ok) {
    process.stderr.write(`${formatViolations(summary.violations)}\n\n`);
    process.stderr.write(
      `device check FAILED: ${summary.violations.length} violation(s) in ${summary.files.length} file(s) linted and ${summary.bundles.length} bundle(s)\n`,
    );
    return 1;
  }
  const sizes = summary.bundles
    .map((b) => `${displayPath(b.entry)} ${b.bytes} B raw / ${b.gzipBytes} B gzip`)
    .join(', ');
  process.stdout.write(`device check OK: ${summary.files.length} files linted${sizes ? `; bundle ${sizes}` : ''}\n`);
  return 0;
}

function invokedDirectly(): boolean {
  const arg = process.argv[1];
  if (!arg) return false;
  try {
    return realpathSync(path.resolve(arg)) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err: unknown) => {
      process.stderr.write(`device check crashed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
      process.exitCode = 2;
    },
  );
}

