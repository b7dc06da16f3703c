#!/usr/bin/env node
// `npm run gen:aten`: writes the TypeScript surface of every ATen operator from the schemas the
// running libtorch registers (native aten_schemas()): lib/aten/functions.ts (nt.<op>),
// lib/aten/methods.ts (Tensor methods, declaration-merged into Tensor) and lib/aten/UNSUPPORTED.md.
// Names that nodetorch already binds by hand (lib/index.ts exports, Tensor members) are left out:
// the hand-written forms stay. Needs the addon built (node scripts/build.js).
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const OUT = path.join(root, 'lib', 'aten');

function loadAddon() {
  const file = path.join(root, 'build', 'Release', 'nodetorch.node');
  if (!fs.existsSync(file)) throw new Error(`gen-aten: ${file} is missing: build the addon first (node scripts/build.js)`);
  return require(file);
}

const camel = (s) => s.replace(/([A-Za-z0-9])_([A-Za-z0-9])/g, (_m, a, b) => a + b.toUpperCase());

const RESERVED = new Set(('break case catch class const continue debugger default delete do else enum export extends ' +
  'false finally for function if import in instanceof new null return super switch this throw true try typeof var void ' +
  'while with yield let static implements interface package private protected public await arguments eval').split(' '));
const ident = (s) => (RESERVED.has(s) ? `${s}_` : s);

/** Names nodetorch binds by hand: lib/index.ts's exports and Tensor's members, minus the generated files. */
function handWritten() {
  const ts = require('typescript');
  const generated = new Set([path.join(OUT, 'functions.ts'), path.join(OUT, 'methods.ts')].map((f) => path.resolve(f)));
  const program = ts.createProgram([path.join(root, 'lib', 'index.ts')], {
    target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, strict: true, skipLibCheck: true, noEmit: true,
    types: ['node'],
  });
  const checker = program.getTypeChecker();
  const fromGenerated = (sym) => {
    const s = sym.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(sym) : sym;
    const decls = s.declarations || [];
    return decls.length > 0 && decls.every((d) => generated.has(path.resolve(d.getSourceFile().fileName)));
  };
  const index = program.getSourceFile(path.join(root, 'lib', 'index.ts'));
  const exports = new Set(checker.getExportsOfModule(checker.getSymbolAtLocation(index))
    .filter((s) => !fromGenerated(s)).map((s) => s.name));
  const tensorFile = program.getSourceFile(path.join(root, 'lib', 'tensor.ts'));
  const tensorSym = checker.getExportsOfModule(checker.getSymbolAtLocation(tensorFile)).find((s) => s.name === 'Tensor');
  const instance = checker.getDeclaredTypeOfSymbol(tensorSym);
  const members = new Set(checker.getPropertiesOfType(instance).filter((s) => !fromGenerated(s)).map((s) => s.name));
  return { exports, members };
}

// ---- types ----

function baseType(p) {
  switch (p.kind) {
    case 'Tensor': return 'Tensor';
    case 'int': case 'float': return 'number';
    case 'bool': return 'boolean';
    case 'Scalar': return 'Scalar';
    case 'str': return 'string';
    case 'ScalarType': return 'DType';
    case 'Layout': return 'Layout';
    case 'Device': return 'DeviceLike';
    case 'MemoryFormat': return 'MemoryFormat';
    case 'int[]': return p.n ? 'number | number[]' : 'number[]';
    case 'float[]': return p.n ? 'number | number[]' : 'number[]';
    case 'bool[]': return 'boolean[]';
    case 'Tensor[]': return 'Tensor[]';
    case 'Tensor?[]': return '(Tensor | null)[]';
    case 'None': return 'null';
    default: throw new Error(`gen-aten: no TypeScript type for ${p.kind}`);
  }
}
const paramType = (p) => (p.optional && p.kind !== 'None' ? `${baseType(p)} | null` : baseType(p));

function retType(kind) {
  const opt = kind.endsWith('?') && kind !== 'Tensor?[]';
  const k = opt ? kind.slice(0, -1) : kind;
  const map = {
    Tensor: 'Tensor', 'Tensor[]': 'Tensor[]', 'Tensor?[]': '(Tensor | null)[]', int: 'number', float: 'number',
    bool: 'boolean', Scalar: 'Scalar', str: 'string', ScalarType: 'DType', Device: 'string', 'int[]': 'number[]',
    'float[]': 'number[]', 'bool[]': 'boolean[]', Layout: 'number', MemoryFormat: 'number',
  };
  const t = map[k] || 'unknown';
  return opt ? `${t} | null` : t;
}

function returns(o, asMethod) {
  if (o.returns.length === 0) return 'void';
  if (o.returns.length === 1) return o.aliasParam === 0 && asMethod ? 'this' : retType(o.returns[0].kind);
  const types = o.returns.map((r) => retType(r.kind));
  if (o.returns.every((r) => r.name)) {
    const fields = o.returns.map((r, i) => `${camel(r.name)}: ${types[i]}`).join('; ');
    return `Named<{ ${fields} }, [${types.join(', ')}]>`;
  }
  return `[${types.join(', ')}]`;
}

const key = (s) => (/^[A-Za-z_$][\w$]*$/.test(s) ? s : JSON.stringify(s));

/** The TypeScript parameter lists of one overload (Python's positional order, keywords as options). */
function signatures(o, asMethod) {
  const params = o.params.slice(asMethod ? 1 : 0);
  const pos = params.filter((p) => !p.kwargOnly);
  const kw = params.filter((p) => p.kwargOnly);
  let i = 0;
  const required = [];
  while (i < pos.length && pos[i].default === null) required.push(pos[i++]);
  const optional = pos.slice(i);
  const name = (p, k) => ident(!asMethod && k === 0 && p.name === 'self' ? 'input' : camel(p.name));
  const req = required.map((p, k) => `${name(p, k)}: ${paramType(p)}`);
  const optionsFields = [...optional, ...kw].map((p) => {
    const needed = p.kwargOnly && p.default === null && !p.optional;
    return `${key(camel(p.name))}${needed ? '' : '?'}: ${paramType(p)}`;
  });
  const opts = `{ ${optionsFields.join('; ')} }`;
  const out = [];
  const needsOptions = kw.some((p) => p.default === null && !p.optional);
  if (optionsFields.length === 0) {
    out.push(req.join(', '));
  } else {
    const tuple = `[${optional.map((p) => `${ident(camel(p.name))}: ${paramType(p)}`).join(', ')}]`;
    out.push([...req, `...rest: ${needsOptions ? 'RestWith' : 'Rest'}<${tuple}, ${opts}>`].join(', '));
  }
  // Python's keywords for required arguments too: nt.cumsum(x, { dim: 0 }), t.topk({ k: 2, dim: 1 })
  const reqAfterSelf = required.slice(!asMethod && required[0] && required[0].name === 'self' ? 1 : 0);
  if (reqAfterSelf.length > 0) {
    const fields = [...reqAfterSelf.map((p) => `${key(camel(p.name))}: ${paramType(p)}`), ...optionsFields];
    out.push([...req.slice(0, required.length - reqAfterSelf.length), `options: { ${fields.join('; ')} }`].join(', '));
  }
  // Python's varargs for a lone int list: t.view(2, 3), t.permute(1, 0)
  if (pos.length === 1 && pos[0].kind === 'int[]' && !needsOptions) out.push(`...${ident(camel(pos[0].name))}: number[]`);
  // ... and for a trailing tensor list: nt.einsum('ij,jk->ik', a, b)
  const last = pos[pos.length - 1];
  if (last && last.kind === 'Tensor[]' && !needsOptions && pos.every((p) => p.default === null)) {
    const before = pos.slice(0, -1).map((p, k) => `${name(p, k)}: ${paramType(p)}`);
    out.push([...before, `...${ident(camel(last.name))}: Tensor[]`].join(', '));
  }
  return out;
}

const isMethodOverload = (o) => o.params.length > 0 && o.params[0].name === 'self' && o.params[0].kind === 'Tensor';
const isPublic = (name) => !name.startsWith('_') && !name.includes('backward');
// Public operators left out of nt.* and Tensor (still reachable through nt.aten.call): their results
// are tensors nodetorch cannot read, or they are kernels libtorch lets crash the process on bad arguments.
const LEFT_OUT = [
  [/sparse|_coo|_csr|_csc|_bsr|_bsc|crow_indices|col_indices|^indices$|^values$|coalesce/, 'returns or needs sparse tensors'],
  [/mkldnn/, 'returns or needs MKL-DNN tensors'],
  [/quantize|^q_|^int_repr|fbgemm|qscheme/, 'returns or needs quantized tensors'],
  [/nested|to_padded_tensor/, 'returns or needs nested tensors'],
  [/^native_/, 'a kernel entry point that skips the checks of its public form (native_channel_shuffle crashes on bad groups)'],
];
const leftOut = (name) => LEFT_OUT.find(([re]) => re.test(name));

function main() {
  const native = loadAddon();
  const version = native.build_info().libtorchRuntime || native.build_info().libtorch;
  const ops = JSON.parse(native.aten_schemas());
  const { exports, members } = handWritten();

  const header = (what) => `// THIS FILE IS AUTOMATICALLY GENERATED by scripts/gen-aten.js (npm run gen:aten) from the operator\n` +
    `// schemas of libtorch ${version}. Do not edit; regenerate.\n// ${what}.\n` +
    `// An operator the running libtorch lacks is an Error when called, not when loaded.\n`;
  const fnLines = [header('nt.<op> for every public ATen operator not bound by hand'),
    "import type { Tensor } from '../tensor';",
    "import type { DType, DeviceLike, Layout, MemoryFormat, Named, Rest, RestWith, Scalar } from './types';",
    "import { fn } from './call';", ''];
  const mLines = [header('Tensor methods for every public ATen operator whose first argument is self'),
    "import type { DType, DeviceLike, Layout, MemoryFormat, Named, Rest, RestWith, Scalar } from './types';", '',
    "declare module '../tensor' {", '  interface Tensor {'];
  const methodNames = [];
  const unsupported = [];
  const leftOutOps = [];
  let nFns = 0;
  const seen = new Set();
  for (const op of ops) {
    for (const o of op.overloads) if (o.why) unsupported.push([`${op.name}${o.overload ? `.${o.overload}` : ''}`, o.why]);
    if (!isPublic(op.name)) continue;
    const out = leftOut(op.name);
    if (out) {
      leftOutOps.push([op.name, out[1]]);
      continue;
    }
    const js = camel(op.name);
    if (seen.has(js)) throw new Error(`gen-aten: two operators are both ${js}`);
    seen.add(js);
    const ok = op.overloads.filter((o) => !o.why);
    if (ok.length === 0) continue;
    // one line per signature: the operator it calls and its schema (argument names, types, defaults)
    const doc = (o) => `Calls aten::${op.name}${o.overload ? `.${o.overload}` : ''} (torch.ops.aten.${op.name} in PyTorch): ` +
      `\`${o.schema.replace(/\*\//g, '* /')}\``;
    if (!exports.has(js) && !RESERVED.has(js)) {
      const sigs = [];
      for (const o of ok) for (const s of signatures(o, false)) sigs.push(`  /** ${doc(o)} */\n  (${s}): ${returns(o, false)};`);
      fnLines.push(`/** Calls aten::${op.name} (PyTorch torch.${op.name} / torch.ops.aten.${op.name}): ${ok.length} overload` +
        `${ok.length > 1 ? 's' : ''}, arguments as in each signature's schema. */`);
      fnLines.push(`export const ${js} = fn('${op.name}') as {\n${sigs.join('\n')}\n};`);
      nFns++;
    }
    const mo = ok.filter(isMethodOverload);
    if (mo.length && !members.has(js)) {
      for (const o of mo) {
        for (const s of signatures(o, true)) mLines.push(`    /** ${doc(o)} */\n    ${js}(${s}): ${returns(o, true)};`);
      }
      methodNames.push(op.name);
    }
  }
  mLines.push('  }', '}', '');
  mLines.push('/** The ATen names installed as Tensor methods (lib/aten/call.ts installMethods). */');
  mLines.push(`export const METHODS: readonly string[] = [\n${wrapList(methodNames)}\n];`);
  fs.writeFileSync(path.join(OUT, 'functions.ts'), fnLines.join('\n') + '\n');
  fs.writeFileSync(path.join(OUT, 'methods.ts'), mLines.join('\n') + '\n');
  const md = ['# ATen overloads nodetorch cannot call', '',
    `GENERATED by scripts/gen-aten.js from libtorch ${version}. Each overload below has an argument whose type`,
    'nodetorch cannot build from JavaScript (named tensors\' Dimname, Generator, Storage, Stream, QScheme,',
    'complex numbers...); optional arguments of such types are accepted as null. `out=` overloads are not',
    'exposed (nodetorch returns new tensors; use the in-place `_` variants to write into a tensor).', '',
    '| overload | why |', '| --- | --- |', ...unsupported.map(([n, w]) => `| \`${n}\` | ${w} |`), '',
    '## Left out of nt.* and Tensor', '',
    'Callable through `nt.aten.call(name, ...)`, but not generated as functions or methods:', '',
    '| operator | why |', '| --- | --- |', ...leftOutOps.map(([n, w]) => `| \`${n}\` | ${w} |`), ''];
  fs.writeFileSync(path.join(OUT, 'UNSUPPORTED.md'), md.join('\n'));
  console.log(`gen-aten: ${ops.length} operators from libtorch ${version}: ${nFns} functions, ` +
    `${methodNames.length} methods, ${unsupported.length} overloads unsupported`);
}

function wrapList(names) {
  const lines = [];
  let line = ' ';
  for (const n of names) {
    const item = ` '${n}',`;
    if (line.length + item.length > 118) {
      lines.push(line);
      line = ' ';
    }
    line += item;
  }
  if (line.trim()) lines.push(line);
  return lines.join('\n');
}

main();
