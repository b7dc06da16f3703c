#!/usr/bin/env node
// Builds the native addon from source: cmake-js by default, node-gyp with --gyp. Both read
// libtorch's flags from scripts/libtorch.js. Writes build/Release/nodetorch-build.json so the
// loader and `nodetorch info` can say what the binary was built against.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const { discover, HOW_TO } = require('./libtorch');

const root = path.resolve(__dirname, '..');

function findNodeDir() {
  // node-gyp must not download headers (no network): use the ones installed with node.
  for (const dir of [process.env.npm_config_nodedir, path.resolve(process.execPath, '../..'), '/usr']) {
    if (dir && fs.existsSync(path.join(dir, 'include/node/node_api.h'))) return dir;
  }
  return null;
}

function run(cmd, args, env) {
  console.log(`nodetorch: ${[cmd, ...args].join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  if (r.error) throw r.error;
  return r.status === 0;
}

function build({ gyp = false, jobs = Math.min(2, os.availableParallelism()) } = {}) {
  const info = discover();
  if (!info) throw new Error(`libtorch was not found.\n${HOW_TO}`);
  console.log(`nodetorch: building against libtorch ${info.version} from ${info.source}`);
  let ok;
  if (gyp) {
    const nodedir = findNodeDir();
    const gypBin = require.resolve('node-gyp/bin/node-gyp.js', {
      paths: [root, path.join(path.dirname(process.execPath), '../lib/node_modules/npm/node_modules')],
    });
    ok = run(process.execPath, [gypBin, 'rebuild', `--jobs=${jobs}`, ...(nodedir ? [`--nodedir=${nodedir}`] : [])]);
  } else {
    const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
    ok = run(process.execPath, [cmakeJs, 'compile', '--parallel', String(jobs), '--log-level', 'warn'],
      { CMAKE_BUILD_PARALLEL_LEVEL: String(jobs) });
  }
  if (!ok) throw new Error('the native build failed (see the compiler output above)');
  const out = path.join(root, 'build/Release');
  fs.writeFileSync(path.join(out, 'nodetorch-build.json'), JSON.stringify({
    builtBy: gyp ? 'node-gyp' : 'cmake-js',
    builtAt: new Date().toISOString(),
    libtorch: info,
  }, null, 2));
  console.log(`nodetorch: built ${path.join(out, 'nodetorch.node')}`);
}

module.exports = { build };

if (require.main === module) {
  try {
    build({ gyp: process.argv.includes('--gyp') });
  } catch (e) {
    console.error(`nodetorch: ${e.message}`);
    process.exit(1);
  }
}
