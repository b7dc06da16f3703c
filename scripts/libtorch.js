#!/usr/bin/env node
// libtorch discovery, shared by CMakeLists.txt, binding.gyp, the install step and
// `nodetorch info`. Order (like tch-rs): LIBTORCH / LIBTORCH_INCLUDE+LIBTORCH_LIB,
// LIBTORCH_USE_PYTORCH=1 (ask Python's torch), then the system's CMake package.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const SYSTEM_CMAKE_DIRS = [
  '/usr/lib/x86_64-linux-gnu/cmake/Torch',
  '/usr/lib/aarch64-linux-gnu/cmake/Torch',
  '/usr/local/lib/cmake/Torch',
  '/usr/local/share/cmake/Torch',
  '/usr/share/cmake/Torch',
  '/usr/local/libtorch/share/cmake/Torch',
  '/opt/libtorch/share/cmake/Torch',
];

const SYSTEM_INCLUDE = ['/usr/include', '/usr/local/include'];

function readVersionHeader(includeDirs) {
  for (const dir of [...includeDirs, ...SYSTEM_INCLUDE]) {
    for (const rel of ['torch/csrc/api/include/torch/version.h', 'torch/version.h']) {
      const f = path.join(dir, rel);
      if (!fs.existsSync(f)) continue;
      const src = fs.readFileSync(f, 'utf8');
      const part = (n) => (src.match(new RegExp(`#define TORCH_VERSION_${n}\\s+(\\d+)`)) || [])[1];
      if (part('MAJOR')) return `${part('MAJOR')}.${part('MINOR')}.${part('PATCH')}`;
    }
  }
  return null;
}

function cxxAbiFromCmake(cmakeDir) {
  const f = cmakeDir && path.join(cmakeDir, 'TorchConfig.cmake');
  if (!f || !fs.existsSync(f)) return null;
  const m = fs.readFileSync(f, 'utf8').match(/_GLIBCXX_USE_CXX11_ABI=(\d)/);
  return m ? Number(m[1]) : null;
}

function libsIn(libDir) {
  const has = (n) => fs.existsSync(path.join(libDir, `lib${n}.so`)) || fs.existsSync(path.join(libDir, `lib${n}.dylib`));
  const libs = ['torch', 'torch_cpu', 'c10'].filter(has);
  const cuda = has('torch_cuda');
  if (cuda) libs.push('torch_cuda', 'c10_cuda');
  return { libs, cuda };
}

function fromPrefix(source, includeRoot, libDir, cmakeDir) {
  const apiInclude = path.join(includeRoot, 'torch/csrc/api/include');
  if (!fs.existsSync(path.join(apiInclude, 'torch/torch.h')))
    throw new Error(`${source}: no torch/torch.h under ${apiInclude}`);
  // -I/usr/include would break libstdc++'s #include_next; the compiler searches it anyway.
  const includeDirs = [includeRoot, apiInclude].filter((d) => !SYSTEM_INCLUDE.includes(path.resolve(d)));
  const { libs, cuda } = libsIn(libDir);
  if (!libs.includes('torch_cpu') && !libs.includes('torch'))
    throw new Error(`${source}: no libtorch_cpu.so or libtorch.so in ${libDir}`);
  return {
    source,
    version: readVersionHeader(includeDirs),
    includeDirs,
    libDir,
    libs,
    cuda,
    cxx11Abi: cxxAbiFromCmake(cmakeDir),
    cmakeDir: cmakeDir && fs.existsSync(cmakeDir) ? cmakeDir : null,
  };
}

function fromEnvLibtorch(env) {
  if (env.LIBTORCH_INCLUDE || env.LIBTORCH_LIB) {
    if (!env.LIBTORCH_INCLUDE || !env.LIBTORCH_LIB)
      throw new Error('LIBTORCH_INCLUDE and LIBTORCH_LIB must be set together');
    return fromPrefix('LIBTORCH_INCLUDE/LIBTORCH_LIB', path.join(env.LIBTORCH_INCLUDE, 'include'),
      path.join(env.LIBTORCH_LIB, 'lib'), path.join(env.LIBTORCH_LIB, 'share/cmake/Torch'));
  }
  const root = path.resolve(env.LIBTORCH);
  if (!fs.existsSync(root)) throw new Error(`LIBTORCH=${env.LIBTORCH} does not exist`);
  const info = fromPrefix(`LIBTORCH=${root}`, path.join(root, 'include'), path.join(root, 'lib'),
    path.join(root, 'share/cmake/Torch'));
  const bv = path.join(root, 'build-version');
  if (fs.existsSync(bv)) info.version = fs.readFileSync(bv, 'utf8').trim().split('+')[0] || info.version;
  return info;
}

function fromPython(env) {
  // Paths beside the torch package, not torch.utils.cpp_extension's: that module needs setuptools,
  // which a Python with torch need not have (Debian 13's python3-torch 2.6 does not pull it in).
  const script = [
    'import json, os, torch',
    'd = os.path.dirname(torch.__file__)',
    'print(json.dumps({"version": torch.__version__, "torch": d,',
    ' "abi": int(torch._C._GLIBCXX_USE_CXX11_ABI), "cmake": os.path.join(d, "share", "cmake")}))',
  ].join('\n');
  const candidates = [env.LIBTORCH_PYTHON, env.PYTHON, 'python3', '/usr/bin/python3', 'python'].filter(Boolean);
  const errors = [];
  for (const py of candidates) {
    const r = spawnSync(py, ['-c', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    if (r.error) {
      errors.push(`${py}: ${r.error.code === 'ENOENT' ? 'not found' : r.error.message}`);
      continue;
    }
    if (r.status !== 0) {
      // the exception's last line names what failed to import (torch itself, or one of its dependencies)
      const last = String(r.stderr).trim().split('\n').filter(Boolean).pop() || `exited with status ${r.status}`;
      errors.push(`${py}: ${last}`);
      continue;
    }
    const j = JSON.parse(r.stdout.trim().split('\n').pop());
    const info = fromPrefix(`LIBTORCH_USE_PYTORCH (${py})`, path.join(j.torch, 'include'), path.join(j.torch, 'lib'),
      path.join(j.cmake, 'Torch'));
    info.version = j.version.split('+')[0].replace(/a0$/, '');
    info.cxx11Abi = j.abi;
    return info;
  }
  throw new Error(`LIBTORCH_USE_PYTORCH=1 but no Python with torch was found (${errors.join('; ')})`);
}

function fromSystem(env) {
  const dirs = [...(env.CMAKE_PREFIX_PATH || '').split(':').filter(Boolean).flatMap((p) => [
    path.join(p, 'share/cmake/Torch'), path.join(p, 'lib/cmake/Torch')]), ...SYSTEM_CMAKE_DIRS];
  for (const dir of dirs) {
    if (!fs.existsSync(path.join(dir, 'TorchConfig.cmake'))) continue;
    // <prefix>/lib/<triplet>/cmake/Torch (Debian) or <prefix>/share/cmake/Torch (archives)
    const multiarch = /\/lib\/[^/]+-linux-gnu\/cmake\/Torch$/.test(dir);
    const prefix = path.resolve(dir, multiarch ? '../../../..' : '../../..');
    const libDir = multiarch ? path.resolve(dir, '../..') : path.join(prefix, 'lib');
    return fromPrefix(`system CMake package (${dir})`, path.join(prefix, 'include'), libDir, dir);
  }
  return null;
}

const HOW_TO = [
  'Provide libtorch in one of these ways, then run `npx nodetorch build` (or npm install again):',
  '  - Debian/Ubuntu: apt-get install libtorch-dev libopenblas0-openmp',
  '  - LIBTORCH=/path/to/libtorch (an unpacked libtorch archive: include/, lib/, share/cmake/Torch)',
  '  - LIBTORCH_INCLUDE=/dir LIBTORCH_LIB=/dir (headers and libraries in separate prefixes)',
  '  - LIBTORCH_USE_PYTORCH=1 with a Python whose `import torch` works (LIBTORCH_PYTHON=/path/to/python to choose it)',
].join('\n');

function discover(env = process.env) {
  if (env.LIBTORCH || env.LIBTORCH_INCLUDE || env.LIBTORCH_LIB) return fromEnvLibtorch(env);
  if (env.LIBTORCH_USE_PYTORCH === '1') return fromPython(env);
  return fromSystem(env);
}

/** The prebuild tag for a libtorch line and variant: libtorch2_6.cpu, libtorch1_13.cuda. */
function libtorchTag(info) {
  const [maj, min] = String(info.version).split('.');
  return `libtorch${maj}_${min}.${info.cuda ? 'cuda' : 'cpu'}`;
}

module.exports = { discover, libtorchTag, HOW_TO };

if (require.main === module) {
  let info;
  try {
    info = discover();
  } catch (e) {
    console.error(`nodetorch: ${e.message}\n${HOW_TO}`);
    process.exit(1);
  }
  if (!info) {
    console.error(`nodetorch: libtorch was not found.\n${HOW_TO}`);
    process.exit(1);
  }
  const arg = process.argv[2] || '--json';
  const abi = info.cxx11Abi == null ? [] : [`_GLIBCXX_USE_CXX11_ABI=${info.cxx11Abi}`];
  const defines = [...abi, ...(info.cuda ? ['NODETORCH_CUDA'] : [])];
  const out = {
    '--json': () => JSON.stringify(info, null, 2),
    '--include': () => info.includeDirs.join(' '),
    '--defines': () => defines.join(' '),
    '--libs': () => [`-L${info.libDir}`, `-Wl,-rpath,${info.libDir}`, '-Wl,--no-as-needed',
      ...info.libs.map((l) => `-l${l}`), '-Wl,--as-needed'].join(' '),
  }[arg];
  if (!out) {
    console.error(`usage: libtorch.js [--json|--include|--defines|--libs]`);
    process.exit(2);
  }
  console.log(out());
}
