#!/usr/bin/env node
// The install step: make sure libtorch exists (installing Debian's packages when we may),
// then build the addon unless a usable binary (a local build or a fitting prebuild) is already there.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { discover, HOW_TO } = require('./libtorch');
const { build } = require('./build');

const root = path.resolve(__dirname, '..');
const APT_PACKAGES = ['libtorch-dev', 'libopenblas0-openmp'];
const BUILD_PACKAGES = { 'g++': 'g++', make: 'make', cmake: 'cmake' };

function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function canApt() {
  return process.platform === 'linux' && fs.existsSync('/etc/debian_version') && have('apt-get') &&
    typeof process.getuid === 'function' && process.getuid() === 0 && process.env.NODETORCH_NO_SYSTEM_INSTALL !== '1';
}

function aptInstall(pkgs, why) {
  console.log(`nodetorch: ${why}: installing Debian packages ${pkgs.join(' ')} with apt-get ` +
    '(set NODETORCH_NO_SYSTEM_INSTALL=1 to stop this)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const lists = fs.existsSync('/var/lib/apt/lists') ? fs.readdirSync('/var/lib/apt/lists') : [];
  if (!lists.some((f) => f.endsWith('_Packages'))) spawnSync('apt-get', ['update', '-q'], { stdio: 'inherit', env });
  let r = spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...pkgs], { stdio: 'inherit', env });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update', '-q'], { stdio: 'inherit', env });
    r = spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...pkgs], { stdio: 'inherit', env });
  }
  if (r.status !== 0) throw new Error(`apt-get install ${pkgs.join(' ')} failed`);
}

function ensureLibtorch() {
  let info = discover();
  if (info) return info;
  if (!canApt()) throw new Error(`libtorch was not found.\n${HOW_TO}`);
  aptInstall(APT_PACKAGES, 'libtorch was not found');
  info = discover();
  if (!info) throw new Error(`libtorch is still not found after installing ${APT_PACKAGES.join(' ')}.\n${HOW_TO}`);
  return info;
}

function ensureOpenBlas() {
  // Without OpenBLAS, Debian's libtorch falls back to the slow reference BLAS.
  if (canApt() && !fs.existsSync('/usr/lib/x86_64-linux-gnu/openblas-openmp') &&
      fs.existsSync('/usr/lib/x86_64-linux-gnu/libtorch_cpu.so')) {
    aptInstall(['libopenblas0-openmp'], 'OpenBLAS is missing');
  }
}

function ensureGloo() {
  // c10d's ProcessGroupGloo.hpp includes gloo's own headers, which libtorch-dev does not pull in;
  // without them the addon builds but nt.distributed cannot use the 'gloo' backend.
  if (canApt() && !fs.existsSync('/usr/include/gloo/config.h') &&
      fs.existsSync('/usr/include/torch/csrc/distributed/c10d/ProcessGroupGloo.hpp')) {
    aptInstall(['libgloo-dev'], "nt.distributed's gloo backend needs gloo's headers");
  }
}

// native/data.cc's JPEG decoder is part of every build: its header jpeglib.h is required (the
// library itself is loaded at run time; `nodetorch info` says which one was found).
const JPEG_HEADERS = ['/usr/include/jpeglib.h', '/usr/local/include/jpeglib.h', '/opt/homebrew/include/jpeglib.h'];
function ensureJpeg() {
  if (JPEG_HEADERS.some((f) => fs.existsSync(f))) return;
  if (!canApt()) {
    console.warn("nodetorch: libjpeg's header jpeglib.h was not found in the usual places; the build needs it " +
      '(Debian/Ubuntu: libjpeg-dev; Fedora: libjpeg-turbo-devel; macOS: brew install jpeg-turbo)');
    return;
  }
  aptInstall(['libjpeg-dev'], "the JPEG decoder needs libjpeg's header");
}

function ensureToolchain() {
  const missing = Object.keys(BUILD_PACKAGES).filter((c) => !have(c));
  if (!missing.length) return;
  if (!canApt()) throw new Error(`building nodetorch needs ${missing.join(', ')} on PATH`);
  aptInstall(missing.map((c) => BUILD_PACKAGES[c]), `the build needs ${missing.join(', ')}`);
}

/**
 * The prebuilt binary lib/native.ts loads here, or null: asked of dist/native itself (in a child,
 * so a binary that fails to load cannot take this process down), so both always agree.
 */
function loadablePrebuild() {
  const native = path.join(root, 'dist/native.js');
  if (!fs.existsSync(native) || !fs.existsSync(path.join(root, 'prebuilds'))) return null;
  const r = spawnSync(process.execPath, ['-e', `process.stdout.write(require(${JSON.stringify(native)}).loadedFrom)`],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return r.status === 0 && r.stdout ? r.stdout : null;
}

function main() {
  if (process.env.NODETORCH_SKIP_BUILD === '1') return;
  ensureLibtorch();
  ensureOpenBlas();
  if (fs.existsSync(path.join(root, 'build/Release/nodetorch.node')) && process.env.NODETORCH_REBUILD !== '1') {
    console.log('nodetorch: using the existing build/Release/nodetorch.node (NODETORCH_REBUILD=1 rebuilds it)');
    return;
  }
  const prebuilt = process.env.NODETORCH_REBUILD !== '1' && loadablePrebuild();
  if (prebuilt) {
    console.log(`nodetorch: using the prebuilt ${path.relative(root, prebuilt)} (NODETORCH_REBUILD=1 builds from source)`);
    return;
  }
  ensureToolchain();
  ensureGloo();
  ensureJpeg();
  build({ gyp: process.env.NODETORCH_BUILD_GYP === '1' });
}

try {
  main();
} catch (e) {
  console.error(`nodetorch: install failed: ${e.message}`);
  process.exit(1);
}
