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

/** node-gyp: a local one, the one npm runs scripts with (npm_config_node_gyp), npm's bundled one, or
 *  the one on PATH (Debian packages it apart from npm, in /usr/share/nodejs). */
function nodeGypBin() {
  const onPath = spawnSync('sh', ['-c', 'command -v node-gyp'], { encoding: 'utf8' }).stdout.trim();
  for (const p of [path.join(root, 'node_modules/node-gyp/bin/node-gyp.js'), process.env.npm_config_node_gyp,
    path.join(path.dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
    onPath && fs.realpathSync(onPath)]) {
    if (p && fs.existsSync(p)) return p;
  }
  throw new Error('node-gyp was not found (it ships with npm; Debian: apt-get install node-gyp)');
}

/** The libc tag prebuildify's --tag-libc gives the addon (its rule, on every platform). */
function libc() {
  return process.env.PREBUILD_LIBC || (process.platform === 'linux' && fs.existsSync('/etc/alpine-release') ? 'musl' : 'glibc');
}

/**
 * Where `npm run prebuild` puts the addon for this libtorch under a package folder, and the
 * build record beside it: prebuilds/linux-x64/nodetorch.glibc.libtorch1_13.cpu.node and .json.
 * test/pack.test.ts stages a prebuild with this too, so the two cannot drift apart.
 */
function prebuildFiles(info, pkgRoot = root) {
  const base = path.join(pkgRoot, 'prebuilds', `${process.platform}-${process.arch}`,
    `nodetorch.${libc()}.${libtorchTag(info)}`);
  return { addon: `${base}.node`, record: `${base}.json` };
}

/** The build record's contents, as lib/native.ts's BuildRecord reads it. */
function prebuildRecord(info, builtBy = 'prebuildify') {
  return JSON.stringify({ builtBy, builtAt: new Date().toISOString(), libtorch: info }, null, 2);
}

/**
 * `npm run prebuild -- --from-build`: the addon already built in build/Release (by npm install or
 * `npx nodetorch build`, against the libtorch found now) becomes the prebuild, moved out of build/
 * so what runs next loads the prebuild alone. CI uses it to skip a second full compile on the host;
 * the libtorch 2.x lane still makes its prebuild with prebuildify.
 */
function fromBuild(info) {
  const src = path.join(root, 'build', 'Release', 'nodetorch.node');
  const srcRecord = path.join(root, 'build', 'Release', 'nodetorch-build.json');
  if (!fs.existsSync(src)) throw new Error(`--from-build: ${src} does not exist; build it first (npm install or npx nodetorch build)`);
  let built;
  try {
    built = JSON.parse(fs.readFileSync(srcRecord, 'utf8')).libtorch;
  } catch (e) {
    throw new Error(`--from-build: cannot read ${srcRecord} (${e.message}), so the build's libtorch is unknown`);
  }
  if (!built || libtorchTag(built) !== libtorchTag(info)) {
    throw new Error(`--from-build: build/Release was built for ${built ? libtorchTag(built) : 'an unknown libtorch'} ` +
      `but the libtorch found now is ${libtorchTag(info)}; rebuild first`);
  }
  const { addon: dest, record } = prebuildFiles(info);
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.renameSync(src, dest);
  fs.rmSync(srcRecord, { force: true });
  fs.writeFileSync(record, prebuildRecord(info, 'cmake-js (npm run prebuild -- --from-build)'));
  console.log(`nodetorch: moved build/Release/nodetorch.node to ${path.relative(root, dest)}`);
}

function main() {
  const info = discover();
  if (!info) throw new Error(`libtorch was not found.\n${HOW_TO}`);
  if (process.argv.includes('--from-build')) return fromBuild(info);
  const tag = libtorchTag(info);
  const { addon: dest, record } = prebuildFiles(info);
  const dir = path.dirname(dest);
  console.log(`nodetorch: prebuilding for libtorch ${info.version} (${tag}) from ${info.source}`);
  const nodedir = ['/usr', path.resolve(process.execPath, '../..')].find((d) =>
    fs.existsSync(path.join(d, 'include/node/node_api.h')));
  const r = spawnSync(process.execPath, [require.resolve('prebuildify/bin.js', { paths: [root] }), '--napi', '--strip',
    '--tag-libc', `--node-gyp=${nodeGypBin()}`, `--target=${process.versions.node}`], {
    cwd: root, stdio: 'inherit',
    // headers from the local node install: nothing may be downloaded
    env: { ...process.env, JOBS: process.env.JOBS || '2', ...(nodedir ? { npm_config_nodedir: nodedir } : {}) },
  });
  if (r.status !== 0) throw new Error('prebuildify failed');
  // prebuildify names it <package>.<libc>.node; the libtorch tag goes before .node
  const made = path.join(dir, `nodetorch.${libc()}.node`);
  if (!fs.existsSync(made)) throw new Error(`prebuildify did not write ${made}`);
  fs.renameSync(made, dest);
  fs.writeFileSync(record, prebuildRecord(info));
  console.log(`nodetorch: wrote ${path.relative(root, dest)}`);
}

module.exports = { prebuildFiles, prebuildRecord };

if (require.main === module) {
  try {
    main();
  } catch (e) {
    console.error(`nodetorch: ${e.message}`);
    process.exit(1);
  }
}
