import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkBundle,
  collectDeviceFiles,
  formatViolations,
  isHostOnly,
  lintFiles,
  runCheck,
  scanBundleText,
  type Violation,
} from '../scripts/check-device.js';

/** [name, source, substring expected in some violation's message]. */
type Case = [string, string, string];

const DESTRUCT = 'Destructuring (any form) is a syntax error';
const BUILTIN_SUB = 'cannot subclass built-ins';
const LOGICAL = 'Logical assignment';
const NOT_HOISTED = 'Espruino does not hoist';
const SHARED = 'Espruino shares one binding';

/** Every construct the lint must reject, each as a small module. */
const LINT_CASES: Case[] = [
  ['object destructuring', 'export function f(o: { a: number }): number { const { a } = o; return a; }', DESTRUCT],
  ['array destructuring', 'export function f(o: number[]): number { const [a, b] = o; return a + b; }', DESTRUCT],
  ['destructuring assignment', 'export function f(o: number[]): number { let a = 0; [a] = o; return a; }', DESTRUCT],
  ['destructuring parameter', 'export function f({ a }: { a: number }): number { return a; }', DESTRUCT],
  ['destructuring in for-of', 'export function f(o: number[][]): number { let s = 0; for (const [k, v] of o) s += k + v; return s; }', DESTRUCT],
  ['destructuring catch parameter', 'export function f(g: () => void): string { try { g(); } catch ({ message }) { return String(message); } return ""; }', DESTRUCT],
  ['default parameter', 'export function f(a = 1): number { return a; }', 'Default values'],
  ['rest parameter', 'export function f(...a: number[]): number { return a.length; }', 'Rest parameters'],
  ['call spread', 'export function f(a: number[]): number { return Math.max(...a); }', 'Spread (array, call or object)'],
  ['array spread', 'export function f(a: number[]): number[] { return [1, ...a]; }', 'Spread (array, call or object)'],
  ['object spread', 'export function f(a: object): object { return { x: 1, ...a }; }', 'Spread (array, call or object)'],
  ['generator function', 'export function* f(): Generator<number> { yield 1; }', 'Generators'],
  ['generator method', 'export class A { *items(): Generator<number> { yield 1; } }', 'Generators'],
  ['async function', 'export async function f(): Promise<number> { return 1; }', 'async/await'],
  ['async arrow', 'export const f = async (): Promise<number> => 1;', 'async/await'],
  ['await', 'export async function f(p: Promise<number>): Promise<number> { return await p; }', 'async/await'],
  ['for await', 'export async function f(p: AsyncIterable<number>): Promise<void> { for await (const x of p) void x; }', 'async/await'],
  ['label', 'export function f(): void { outer: for (;;) { for (;;) break outer; } }', 'Labelled statements'],
  ['exponent operator', 'export function f(a: number): number { return a ** 2; }', '`**`/`**=`'],
  ['exponent assignment', 'export function f(a: number): number { a **= 2; return a; }', '`**`/`**=`'],
  ['optional member', 'export function f(a: { b: number } | null): number | undefined { return a?.b; }', 'Optional chaining'],
  ['optional call', 'export function f(a: { b?: () => number }): number | undefined { return a.b?.(); }', 'Optional chaining'],
  ['??=', 'export function f(a: { x?: number }): void { a.x ??= 1; }', LOGICAL],
  ['||=', 'export function f(a: { x: number }): void { a.x ||= 1; }', LOGICAL],
  ['&&=', 'export function f(a: { x: number }): void { a.x &&= 1; }', LOGICAL],
  ['tagged template', 'export function f(a: number): string { return String.raw`x${a}`; }', 'Tagged templates'],
  ['#private field', 'export class A { #x: number; constructor() { this.#x = 1; } get(): number { return this.#x; } }', '`#private` members'],
  ['#private method', 'export class A { #m(): number { return 1; } g(): number { return this.#m(); } }', '`#private` members'],
  ['class field initialiser', 'export class A { x = 1; }', 'Class fields with initialisers'],
  ['static field initialiser', 'export class A { static x = 1; }', 'Class fields with initialisers'],
  ['class static block', 'export class A { static x: number; static { A.x = 1; } }', 'Class static blocks'],
  ['accessor field', 'export class A { accessor x: number; constructor() { this.x = 1; } }', 'Decorators and `accessor` fields'],
  ['decorator', 'function d(t: unknown, c: unknown): void { void t; void c; }\nexport class A { @d m(): void {} }', 'Decorators and `accessor` fields'],
  ['extends Error', 'export class E extends Error {}', BUILTIN_SUB],
  ['extends Uint8Array', 'export class B extends Uint8Array {}', BUILTIN_SUB],
  ['extends Array (class expression)', 'export const B = class extends Array<number> {};', BUILTIN_SUB],
  ['BigInt literal', 'export const x = 10n;', 'BigInt does not exist'],
  ['BigInt()', 'export const x = BigInt(10);', 'BigInt does not exist'],
  ['computed object key', 'export function f(k: string): object { return { [k]: 1 }; }', 'Computed property keys'],
  ['computed method key', 'const k = "m";\nexport class A { [k](): number { return 1; } }', 'Computed property keys'],
  ['dynamic import', 'export function f(): Promise<unknown> { return import("./x.js"); }', 'Dynamic `import()`'],
  ['import.meta', 'export const u = import.meta.url;', '`import.meta`'],
  ['new.target', 'export function F(this: unknown): unknown { return new.target; }', '`new.target`'],
  ['use strict', '"use strict";\nexport const x = 1;', 'no strict mode'],
  ['built-in prototype', 'export function f(a: ArrayLike<number>): number[] { return Array.prototype.map.call(a, (x: number) => x) as number[]; }', 'not reachable through prototypes'],
  ['Array.from', 'export const a = Array.from([1]);', '`Array.from/of`'],
  ['Array.of', 'export const a = Array.of(1);', '`Array.from/of`'],
  ['Uint8Array.from', 'export const a = Uint8Array.from([1]);', '`Array.from/of`'],
  ['Uint8Array.of', 'export const a = Uint8Array.of(1);', '`Array.from/of`'],
  ['Uint32Array.from', 'export const a = Uint32Array.from([1]);', '`Array.from/of`'],
  ['TypedArray.slice', 'export function f(a: Uint8Array): Uint8Array { return a.slice(0, 4); }', 'TypedArray.slice returns a plain Array'],
  ['string slice', 'export function f(s: string): string { return s.slice(1); }', 'TypedArray.slice returns a plain Array'],
  ['ArrayBuffer.slice', 'export function f(b: ArrayBuffer): ArrayBuffer { return b.slice(0); }', 'ArrayBuffer.slice is missing'],
  ['Array.flat', 'export function f(a: number[][]): number[] { return a.flat(); }', 'flat does not exist'],
  ['Math.sign', 'export const x = Math.sign(-2);', 'Math.sign is missing from Espruino SAVE_ON_FLASH_EXTREME builds'],
  ...['imul', 'clz32', 'trunc', 'log2', 'fround', 'cbrt', 'hypot'].map(
    (fn): Case => [`Math.${fn}`, `export const x = (Math.${fn} as (a: number, b: number) => number)(1, 2);`, `Math.${fn} does not exist on Espruino`],
  ),
  ['Math.pow', 'export const x = Math.pow(2, 32);', 'Math.pow is inexact'],
  ['Math.random', 'export const x = Math.random();', 'Math.random is no cryptographic RNG'],
  ...['isInteger', 'isSafeInteger', 'isNaN', 'isFinite'].map(
    (fn): Case => [`Number.${fn}`, `export const x = Number.${fn}(1);`, `Number.${fn} does not exist on Espruino`],
  ),
  ['Number.MAX_SAFE_INTEGER', 'export const x = Number.MAX_SAFE_INTEGER;', 'Number.MAX_SAFE_INTEGER does not exist'],
  ...['freeze', 'is'].map(
    (fn): Case => [`Object.${fn}`, `export const x = (Object.${fn} as (a: unknown, b?: unknown) => unknown)({}, 1);`, `Object.${fn} does not exist on Espruino`],
  ),
  ...['entries', 'values', 'fromEntries'].map(
    (fn): Case => [`Object.${fn}`, `export const x = (Object.${fn} as (a: unknown) => unknown)({});`, `Object.${fn} is missing from Espruino before`],
  ),
  ['ArrayBuffer.isView', 'export const x = ArrayBuffer.isView(new Uint8Array(1));', 'ArrayBuffer.isView does not exist'],
  ...['race', 'allSettled', 'any'].map(
    (fn): Case => [`Promise.${fn}`, `export const x = Promise.${fn}([Promise.resolve(1)]);`, `Promise.${fn} does not exist on Espruino`],
  ),
  ['Promise.finally', 'export function f(p: Promise<number>): Promise<number> { return p.finally(() => undefined); }', 'finally does not exist'],
  ['crypto.getRandomValues', 'export function f(b: Uint8Array): void { crypto.getRandomValues(b); }', 'getRandomValues does not exist'],
  ['Error.captureStackTrace', 'export function f(e: Error): void { Error.captureStackTrace(e); }', 'V8-only'],
  ...['Map', 'Set', 'WeakMap', 'WeakSet'].map(
    (g): Case => [`global ${g}`, `export const x = new ${g}<object>();`, `${g} does not exist on Espruino`],
  ),
  ['global Symbol', 'export const s = Symbol("x");', 'Symbol does not exist on Espruino'],
  ['global Proxy', 'export const p = new Proxy({}, {});', 'Proxy does not exist on Espruino'],
  ['global Reflect', 'export const k = Reflect.ownKeys({});', 'Reflect does not exist on Espruino'],
  ['global TextEncoder', 'export const e = new TextEncoder();', 'TextEncoder does not exist on Espruino'],
  ['global TextDecoder', 'export const d = new TextDecoder();', 'TextDecoder does not exist on Espruino'],
  ['global RangeError', 'export function f(): never { throw new RangeError("x"); }', 'RangeError does not exist on Espruino'],
  ['global Buffer', 'export const b = Buffer.alloc(1);', "Node's Buffer does not exist on Espruino"],
  ['global globalThis', 'export const g = globalThis;', 'globalThis exists on Espruino only from 2v22'],
  ['global setImmediate', 'export function f(g: () => void): void { setImmediate(g); }', 'setImmediate does not exist'],
  ['global queueMicrotask', 'export function f(g: () => void): void { queueMicrotask(g); }', 'queueMicrotask does not exist'],
  ['global process', 'export const e = process.env;', "Node's process is not there"],
  ['global require', 'export const m = require("dgram") as unknown;', "Espruino's require loads only Espruino modules"],
  ['global Date', 'export const t = Date.now();', 'time comes in as a `now` parameter'],
  ['global setTimeout', 'export function f(g: () => void): void { setTimeout(g, 1); }', 'the driver owns timers'],
  ['global setInterval', 'export function f(g: () => void): void { setInterval(g, 1); }', 'the driver owns timers'],
  ['import node:crypto', 'import { randomBytes } from "node:crypto";\nexport const r = randomBytes;', 'Node built-in modules do not exist on Espruino'],
  ['import fs', 'import { readFileSync } from "fs";\nexport const r = readFileSync;', 'Node built-in modules do not exist on Espruino'],
  ['import fs/promises', 'import { readFile } from "fs/promises";\nexport const r = readFile;', 'Node built-in modules do not exist on Espruino'],
  ['re-export node:dgram', 'export { createSocket } from "node:dgram";', 'Node built-in modules do not exist on Espruino'],
  ['import @noble/ciphers', 'import { chacha20poly1305 } from "@noble/ciphers/chacha.js";\nexport const c = chacha20poly1305;', 'may not import @noble/*'],
  ['import @noble/hashes', 'import * as b from "@noble/hashes/blake2.js";\nexport const c = b;', 'may not import @noble/*'],
  ['import x = require()', 'import x = require("./y.js");\nexport const c = x;', 'CommonJS interop'],
  ['call before declaration', 'export const x = f();\nfunction f(): number { return 1; }', NOT_HOISTED],
  ['nested call before declaration', 'export function g(): number { return h(); function h(): number { return 1; } }', NOT_HOISTED],
  ['method calls a later function', 'export class A { m(): number { return later(); } }\nfunction later(): number { return 1; }', NOT_HOISTED],
  ['class before declaration', 'export function make(): object { return new B(); }\nclass B {}', NOT_HOISTED],
  ['variable before declaration', 'export function get(): number { return K; }\nconst K = 1;', NOT_HOISTED],
  ['closure over for-let', 'export const fs: (() => number)[] = [];\nfor (let i = 0; i < 3; i++) fs.push(() => i);', SHARED],
  ['closure over for-of const', 'export function f(xs: number[]): (() => number)[] { const out: (() => number)[] = []; for (const x of xs) { out.push(function () { return x; }); } return out; }', SHARED],
  ['closure over for-in const', 'export function f(o: object): (() => string)[] { const out: (() => string)[] = []; for (const k in o) out.push(() => k); return out; }', SHARED],
  ['closure over an outer loop head', 'export function f(): (() => number)[] { const out: (() => number)[] = []; for (let i = 0; i < 3; i++) { for (let j = 0; j < 3; j++) out.push(() => i + j); } return out; }', SHARED],
  ['nested closure over a loop head', 'export function f(): (() => () => number)[] { const out: (() => () => number)[] = []; for (let i = 0; i < 3; i++) out.push(() => () => i); return out; }', SHARED],
  ['class names itself in a static method', 'export class P { static make(): P { return new P(); } }', 'Espruino does not bind a class expression\'s own name'],
  ['class names itself in an instance method', 'export class P { static k: number; m(): number { return P.k; } }\nP.k = 1;', 'Espruino does not bind a class expression\'s own name'],
  ['named class expression names itself', 'export const X = class Y { static make(): unknown { return new Y(); } };', 'Espruino does not bind a class expression\'s own name'],
  ['static member through a subclass', 'class A { static make(): number { return 1; } }\nclass B extends A {}\nexport const x = B.make();', "Espruino does not inherit static members"],
  ['static member through a subclass expression', 'class A { static readonly K: number; }\nA.K;\nconst B = class extends A {};\nexport const x = B.K;', "Espruino does not inherit static members"],
  ['closure over outer variable modified in loop', 'export function f(): (() => number)[] { const out: (() => number)[] = []; let t = 0; for (let i = 0; i < 3; i++) { t += i; out.push(() => t); } return out; }', 'sees the variable\'s value when it is called'],
  ['var', 'export function f(c: boolean): number { if (c) { var x = 1; } return x; }', 'a `var` exists only once its declaration has run'],
];

/** Constructs Espruino runs: classes, arrows, typed arrays, `>>> 0`, for-of, templates, `??`. */
const ALLOWED = `
import { helper } from './allowed-dep.js';
import type { Thing } from './allowed-dep.js';

/** Engine-style constants and scratch buffers, created once. */
export const SIZE = 16;
const scratch = new Uint32Array(4);
const view = new DataView(new ArrayBuffer(8));

function rotl(v: number, n: number): number {
  return ((v << n) | (v >>> (32 - n))) >>> 0;
}

export interface Options { label?: string; count?: number }

export enum Kind { A = 1, B = 2 }

export abstract class Base {
  protected readonly buf: Uint8Array;
  static created: number;
  constructor(size: number) {
    this.buf = new Uint8Array(size);
  }
  abstract kind(): Kind;
  get length(): number { return this.buf.length; }
}
Base.created = 0;

export class Peer extends Base {
  private counter: number;
  declare readonly tag: string;
  constructor(size: number, private readonly opts: Options) {
    super(size);
    this.counter = 0;
    Base.created++;
  }
  kind(): Kind { return Kind.A; }
  static make(): Peer { return new this(SIZE, {}); }
  describe(): string {
    const label = this.opts.label ?? 'peer';
    const n = this.opts.count || 0;
    return \`\${label}#\${n}:\${this.counter}\`;
  }
  fill(src: Uint8Array, off: number, len: number): number {
    let sum = 0;
    for (const b of this.buf) sum = (sum + b) | 0;
    for (let i = 0; i < len; i++) this.buf[i] = src[off + i];
    this.buf.set(src.subarray(off, off + len));
    this.buf.fill(0, len);
    for (const k in this.opts) sum += k.length;
    scratch[0] = rotl(sum, 7);
    view.setUint32(0, scratch[0], true);
    this.counter = (this.counter + 1) >>> 0;
    return view.getUint32(0, true) ^ helper(sum);
  }
}

export function total(xs: number[], t: Thing): number {
  const add = (a: number, b: number): number => a + b;
  let s = 0;
  for (const x of xs) s = add(s, x);
  try { s += t.n; } catch (e) { s = -1; }
  const copy = Object.assign({}, t);
  return s + Object.keys(copy).length + (xs[0] as number | undefined ?? 0);
}

export function onEach(xs: number[], f: (x: number) => void): void {
  for (let i = 0; i < xs.length; i++) f(xs[i]);
}

/** Loop-body declarations get a fresh binding per iteration on Espruino too. */
export function thunks(xs: number[]): (() => number)[] {
  const out: (() => number)[] = [];
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i];
    out.push(() => v);
  }
  return out;
}

export class Sub extends Peer {
  static tag: string;
  static create(): Sub { return new this(SIZE, {}); }
  static self(): string { return this.tag; }
  kind(): Kind { return Kind.B; }
}
Sub.tag = 'sub';
export const madeBase = Peer.make();
export const madeSub = Sub.create();
export const subTag = Sub.tag;

/** Inside a function, a class declaration stays a declaration: self-references are fine. */
export function local(): number {
  class Node1 { static make(): Node1 { return new Node1(); } v(): number { return 1; } }
  return Node1.make().v();
}

export const text = 'Map( Symbol BigInt Math.pow .slice( WeakMap Reflect';
export function later(): Promise<number> {
  return Promise.resolve(1).then((v) => v + 1, () => 0);
}
export function big(): number { return 0xffffffff >>> 0; }
`;

const ALLOWED_DEP = `
export interface Thing { n: number }
export function helper(x: number): number { return (x * 31) | 0; }
`;

/** Constructs the bundle check must reject even when the lint is bypassed (e.g. in a dependency). */
const BUNDLE_CASES: Case[] = [
  ['destructuring', 'export function f(o: { a: number }): number { const { a } = o; return a; }', 'Transforming destructuring'],
  ['default parameter', 'export function f(a = 1): number { return a; }', 'Transforming default arguments'],
  ['rest parameter', 'export function f(...a: number[]): number { return a.length; }', 'Transforming rest arguments'],
  ['array spread', 'export function f(a: number[]): number[] { return [1, ...a]; }', 'Transforming array spread'],
  ['generator', 'export function* f(): Generator<number> { yield 1; }', 'Transforming generator functions'],
  ['async', 'export async function f(): Promise<number> { return 1; }', 'Transforming async functions'],
  ['new.target', 'export function F(this: unknown): unknown { return new.target; }', 'Transforming new.target'],
  ['exponent (lowered to Math.pow)', 'export function f(a: number): number { return a ** 2; }', 'Math.pow is inexact'],
  ['object spread (lowered to helpers)', 'export function f(a: object): object { return { x: 1, ...a }; }', 'Object.getOwnPropertySymbols does not exist'],
  ['#private (lowered to WeakMap)', 'export class A { #x: number; constructor() { this.#x = 1; } get(): number { return this.#x; } }', 'WeakMap does not exist'],
  ['BigInt literal (lowered to BigInt())', 'export const x = 10n;', 'BigInt does not exist'],
  ['tagged template', 'export function f(a: number): string { return String.raw`x${a}`; }', 'Tagged templates'],
  ['label', 'export function f(): void { outer: for (;;) { for (;;) break outer; } }', 'Labelled statements'],
  ['computed key', 'export function f(k: string): object { return { [k]: 1 }; }', 'Computed property keys'],
  ['extends Error', 'export class E extends Error {}', BUILTIN_SUB],
  ['Map', 'export const m = new Map<string, number>();', 'Map does not exist'],
  ['typed array slice', 'export function f(a: Uint8Array): Uint8Array { return a.slice(1); }', 'TypedArray.slice returns a plain Array'],
  ['Uint8Array.from', 'export const a = Uint8Array.from([1]);', '`Array.from/of`'],
  ['closure over a loop let', 'export const fs: (() => number)[] = [];\nfor (let i = 0; i < 3; i++) fs.push(() => i);', SHARED],
  ['class naming itself (esbuild renames it)', 'export class P { static make(): P { return new P(); } }', 'Espruino does not bind a class expression\'s own name'],
  ['static member read through a subclass', 'export class A { static make(): number { return 1; } }\nexport class B extends A {}\nexport const x = B.make();', 'Espruino does not inherit static members'],
  ['import.meta', 'export const u = import.meta.url;', '"import.meta" is not available'],
  ['import from node:', 'import { createSocket } from "node:dgram";\nexport const c = createSocket;', 'Node built-in modules do not exist on Espruino'],
  ['import from @noble', 'import { chacha20poly1305 } from "@noble/ciphers/chacha.js";\nexport const c = chacha20poly1305;', 'may not import @noble/*'],
  ['import of a host-only file', 'import { h } from "./host-only-dep.js";\nexport const c = h;', 'is marked // wgjs:host-only but is imported by the device path'],
];

/** Constructs esbuild lowers into Espruino-safe code: the bundle check passes them. */
const BUNDLE_LOWERED_OK: [string, string][] = [
  ['optional chaining', 'export function f(a: { b: number } | null): number | undefined { return a?.b; }'],
  ['logical assignment', 'export function f(a: { x?: number }): void { a.x ??= 1; a.x ||= 2; }'],
  ['class field initialiser', 'export class A { x = 1; static y = 2; }'],
  ['optional catch binding', 'export function f(g: () => void): boolean { try { g(); } catch { return false; } return true; }'],
  ['type-only field declarations', 'export class A { x: number; constructor() { this.x = 1; } }'],
];

let dir: string;

function write(name: string, source: string): string {
  const file = path.join(dir, name);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, source);
  return file;
}

function messagesOf(violations: Violation[], file?: string): string[] {
  return violations.filter((v) => file === undefined || v.file === file).map((v) => v.message);
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'wgjs-check-device-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('device check: machinery', () => {
  it('recognises the host-only marker in the first lines only', () => {
    expect(isHostOnly('// wgjs:host-only\nimport x from "y";')).toBe(true);
    expect(isHostOnly('/** Noble provider. */\n// wgjs:host-only: uses @noble\nexport {};')).toBe(true);
    expect(isHostOnly('export {};\n'.repeat(20) + '// wgjs:host-only\n')).toBe(false);
    expect(isHostOnly('export const x = 1;\n')).toBe(false);
  });

  it('collects device files, skipping host-only files, .d.ts and node_modules', () => {
    const root = path.join(dir, 'collect');
    write('collect/a.ts', 'export const a = 1;\n');
    write('collect/sub/b.ts', 'export const b = 1;\n');
    write('collect/host.ts', '// wgjs:host-only\nimport { x } from "@noble/hashes/blake2.js";\n');
    write('collect/types.d.ts', 'export type T = number;\n');
    write('collect/node_modules/m/index.ts', 'export const m = new Map();\n');
    expect(collectDeviceFiles([root])).toEqual([path.join(root, 'a.ts'), path.join(root, 'sub/b.ts')]);
  });

  it('formats a readable file:line report', () => {
    const text = formatViolations([
      { file: path.join(dir, 'x.ts'), line: 3, column: 7, rule: 'no-restricted-syntax', message: 'Why.' },
      { file: 'bundle:core', line: 1, column: 10, rule: 'bundle-scan/no-restricted-globals', message: 'Map.', context: 'a⟦Map(' },
    ]);
    expect(text).toContain('x.ts:3:7  [no-restricted-syntax]\n    Why.');
    expect(text).toContain('bundle:core:1:10');
    expect(text).toContain('at: a⟦Map(');
  });
});

describe('device check: lint rejects every forbidden construct', () => {
  const files = new Map<string, string>();
  let violations: Violation[] = [];

  beforeAll(async () => {
    LINT_CASES.forEach(([name, source], i) => {
      files.set(name, write(`lint/case${i}.ts`, source));
    });
    violations = await lintFiles([...files.values()]);
  });

  it.each(LINT_CASES)('%s', (name, _source, expected) => {
    const file = files.get(name)!;
    const messages = messagesOf(violations, file);
    expect(messages.some((m) => m.includes(expected)), `got:\n${messages.join('\n')}`).toBe(true);
    for (const v of violations.filter((x) => x.file === file)) expect(v.line).toBeGreaterThan(0);
  });
});

describe('device check: allowed constructs', () => {
  it('pass the lint', async () => {
    const main = write('allowed/main.ts', ALLOWED);
    const dep = write('allowed/allowed-dep.ts', ALLOWED_DEP);
    const violations = await lintFiles([main, dep]);
    expect(formatViolations(violations)).toBe('');
  });

  it('pass the bundle check', async () => {
    write('allowed/allowed-dep.ts', ALLOWED_DEP);
    const result = await checkBundle(write('allowed/main.ts', ALLOWED));
    expect(formatViolations(result.violations)).toBe('');
    expect(result.bytes).toBeGreaterThan(0);
    expect(result.gzipBytes).toBeGreaterThan(0);
    expect(result.code).toContain('??');
  });

  it('the driver profile allows Espruino runtime globals the engine may not use', async () => {
    const file = write('driver/device.ts', 'export function f(g: () => void): number { setTimeout(g, 10); return Date.now(); }\n');
    expect(await lintFiles([file], { profile: 'driver' })).toEqual([]);
    const engine = await lintFiles([file], { profile: 'engine' });
    expect(engine.map((v) => v.message).join('\n')).toContain('the driver owns timers');
    const map = write('driver/map.ts', 'export const m = new Map<string, number>();\n');
    expect(messagesOf(await lintFiles([map], { profile: 'driver' })).join('\n')).toContain('Map does not exist');
  });
});

describe('device check: bundle', () => {
  beforeAll(() => {
    write('bundle/host-only-dep.ts', '// wgjs:host-only\nexport const h = 1;\n');
  });

  it.each(BUNDLE_CASES)('rejects %s', async (name, source, expected) => {
    const entry = write(`bundle/${name.replace(/[^a-z0-9]+/gi, '-')}.ts`, source);
    const result = await checkBundle(entry);
    const messages = messagesOf(result.violations);
    expect(messages.some((m) => m.includes(expected)), `got:\n${formatViolations(result.violations)}`).toBe(true);
  });

  it.each(BUNDLE_LOWERED_OK)('lowers %s into Espruino-safe code', async (name, source) => {
    const result = await checkBundle(write(`bundle/ok-${name.replace(/[^a-z0-9]+/gi, '-')}.ts`, source));
    expect(formatViolations(result.violations)).toBe('');
    expect(result.code).not.toMatch(/\?\.|\?\?=|\|\|=|defineProperty/);
  });

  it('scans the AST, not text: names inside strings are no violations', () => {
    expect(scanBundleText('var a="Map( Symbol Math.pow .slice(",b=`WeakMap ${a}`;', 'strings')).toEqual([]);
    const found = scanBundleText('(()=>{var n=Math.pow;var m=new Map;x.slice(1)})();', 'tokens');
    expect(found.map((v) => v.rule)).toEqual([
      'bundle-scan/no-restricted-properties',
      'bundle-scan/no-restricted-globals',
      'bundle-scan/no-restricted-properties',
    ]);
    expect(found[0]!.context).toContain('⟦Math.pow');
  });

  it('reports a missing entry', async () => {
    const result = await checkBundle(path.join(dir, 'missing.ts'));
    expect(result.violations.map((v) => v.message)).toEqual(['entry does not exist']);
  });
});

describe('device check: the real device tree', () => {
  // Runs on every test run: the device path (packages/core/src and packages/espruino/src) must
  // pass both the lint and the bundle check. On failure the report lists every violation.
  it('packages/core/src and packages/espruino/src pass the lint and the bundle check', async () => {
    const summary = await runCheck();
    expect(summary.files.length).toBeGreaterThan(0);
    expect(formatViolations(summary.violations)).toBe('');
  });
});
