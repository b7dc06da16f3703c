#!/usr/bin/env node
// `npm run prebuild`: a prebuilt addon for the libtorch found here, made with prebuildify
// (node-gyp, N-API) and tagged with that libtorch's version and variant, e.g.
// prebuilds/linux-x64/nodetorch.glibc.libtorch1_13.cpu.node. lib/native.ts picks the
// prebuild whose tags match the libtorch it finds at run time.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { discover, libtorchTag, HOW_TO } = require('./libtorch');

const root = path.resolve(__dirname, '..');

function nodeGypBin() {
  for (const p of [path.join(root, 'node_modules/node-gyp/bin/node-gyp.js'),
    path.join(path.dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js')]) {
    if (fs.existsSync(p)) return p;
  }
  throw new Error('node-gyp was not found (it ships with npm)');
}

function main() {
  const info = discover();
  if (!info) throw new Error(`libtorch was not found.\n${HOW_TO}`);
  const tag = libtorchTag(info);
  const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  console.log(`nodetorch: prebuilding for libtorch ${info.version} (${tag}) from ${info.source}`);
  const nodedir = ['/usr', path.resolve(process.execPath, '../..')].find((d) =>
    fs.existsSync(path.join(d, 'include/node/node_api.h')));
  const r = spawnSync(process.execPath, [require.resolve('prebuildify/bin.js', { paths: [root] }), '--napi', '--strip',
    '--tag-libc', `--node-gyp=${nodeGypBin()}`, `--target=${process.versions.node}`], {
    cwd: root, stdio: 'inherit',
    // headers from the local node install: nothing may be downloaded
    env: { ...process.env, JOBS: '2', ...(nodedir ? { npm_config_nodedir: nodedir } : {}) },
  });
  if (r.status !== 0) throw new Error('prebuildify failed');
  const made = fs.readdirSync(dir).find((f) => /^nodetorch\..*\.node$/.test(f) && !f.includes('libtorch'));
  if (!made) throw new Error(`prebuildify produced no addon in ${dir}`);
  const dest = path.join(dir, made.replace(/\.node$/, `.${tag}.node`));
  fs.renameSync(path.join(dir, made), dest);
  fs.writeFileSync(dest.replace(/\.node$/, '.json'), JSON.stringify({
    builtBy: 'prebuildify', builtAt: new Date().toISOString(), libtorch: info,
  }, null, 2));
  console.log(`nodetorch: wrote ${path.relative(root, dest)}`);
}

if (require.main === module) {
  try {
    main();
  } catch (e) {
    console.error(`nodetorch: ${e.message}`);
    process.exit(1);
  }
}
