// The package as npm ships it: staged from package.json "files", packed with `npm pack`, installed
// into a fresh project by npm with its default settings and no compiler on PATH, then trained on
// MNIST there, so it has to work from the prebuilt binary alone.
//
// NODETORCH_PACK_PREBUILDS=libtorch1_13.cpu,libtorch2_6.cpu packs the prebuilds/ that
// `npm run prebuild` made for each of those libtorch lines (CI: 1.13 on the host, 2.6 in the
// libtorch 2.x lane) instead of staging only this machine's, and checks the installed package
// picks the one for the libtorch found here.
import { execFile, execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';

const root = path.resolve(__dirname, '..');
const { discover, libtorchTag } = require('../scripts/libtorch.js');
const { prebuildFiles, prebuildRecord } = require('../scripts/prebuild.js');
const found = discover();
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { files: string[] };
/** prebuilds/linux-x64/nodetorch.glibc.libtorch1_13.cpu.node and .json: named as `npm run prebuild` names them */
const prebuild = prebuildFiles(found, '') as { addon: string; record: string };
/** The libtorch tags whose real prebuilds are packed (NODETORCH_PACK_PREBUILDS), or [] to stage this machine's. */
const shippedTags = (process.env.NODETORCH_PACK_PREBUILDS ?? '').split(/[\s,]+/).filter(Boolean);
/** prebuilds/linux-x64/nodetorch.glibc.<tag>.node and .json for each shipped tag */
const shipped = shippedTags.map((tag) => ({
  addon: prebuild.addon.replace(libtorchTag(found), tag), record: prebuild.record.replace(libtorchTag(found), tag),
}));
const BUILT = ['dist', 'prebuilds'];
// An enclosing `npm test` exports npm_config_*, which would become the inner npm's settings.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
const execFileP = promisify(execFile);

let tmp: string;
let proj: string;
let bin: string;
let packed: string[];
let installOutput: string;

const mtime = (f: string) => fs.statSync(f).mtimeMs;

function copy(from: string, to: string) {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(from, to);
}

/** Files under dir, relative to it, skipping node_modules. */
function walk(dir: string, rel = ''): string[] {
  return fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) => {
    const f = path.join(rel, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : walk(dir, f);
    return e.isFile() ? [f] : [];
  });
}

/** The checkout's files that npm would pack, less the built outputs: what git tracks, else (no .git,
 *  as in the libtorch 2.x lane's copy) what is on disk. */
function sourceFiles(): string[] {
  const entries = pkg.files.filter((f) => !BUILT.includes(f));
  const readme = fs.readdirSync(root).filter((f) => /^(readme|licen[cs]e|changelog)/i.test(f));
  const git = spawnSync('git', ['ls-files', '-z', '--', ...entries, ...readme], { cwd: root, encoding: 'utf8' });
  const files = git.status === 0 ? git.stdout.split('\0').filter(Boolean)
    : [...readme, ...entries.flatMap((e) => fs.statSync(path.join(root, e)).isDirectory() ? walk(path.join(root, e)).map((f) => path.join(e, f)) : [e])];
  return files.filter((f) => fs.existsSync(path.join(root, f)));
}

/** dist/ as `npm run prepare` makes it: the checkout's when newer than every source, else compiled. */
function stageDist(stage: string) {
  const sources = walk(path.join(root, 'lib')).filter((f) => f.endsWith('.ts'));
  const newest = Math.max(...['tsconfig.json', 'tsconfig.build.json', ...sources.map((s) => `lib/${s}`)].map((f) => mtime(path.join(root, f))));
  const dist = path.join(root, 'dist');
  const fresh = sources.every((s) => ['.js', '.d.ts'].every((ext) => {
    const f = path.join(dist, s.replace(/\.ts$/, ext));
    return fs.existsSync(f) && mtime(f) >= newest;
  }));
  if (!fresh) {
    execFileSync(path.join(root, 'node_modules/.bin/tsc'), ['-p', path.join(root, 'tsconfig.build.json'), '--outDir', path.join(stage, 'dist')]);
    return;
  }
  const wanted = new Set(sources);
  for (const f of walk(dist)) {
    if (wanted.has(f.replace(/(\.js|\.js\.map|\.d\.ts|\.d\.ts\.map)$/, '.ts'))) copy(path.join(dist, f), path.join(stage, 'dist', f));
  }
}

/**
 * prebuilds/ for the libtorch found here. `npm run prebuild` (prebuildify) makes the real one, but
 * that is a full native compile, so this reuses its output when it is there and newer than the
 * local build, and otherwise stages build/Release/nodetorch.node under the same name with the same
 * record. The prebuildify run itself is exercised only by `npm run prebuild`.
 */
function stagePrebuild(stage: string) {
  if (shipped.length) {
    if (!shippedTags.includes(libtorchTag(found))) {
      throw new Error(`NODETORCH_PACK_PREBUILDS=${shippedTags.join(',')} has no prebuild for the libtorch found here (${libtorchTag(found)})`);
    }
    for (const f of shipped.flatMap((p) => [p.addon, p.record])) {
      if (!fs.existsSync(path.join(root, f))) throw new Error(`NODETORCH_PACK_PREBUILDS: ${f} is missing (made by \`npm run prebuild\`)`);
      copy(path.join(root, f), path.join(stage, f));
    }
    return;
  }
  const made = prebuildFiles(found, root) as { addon: string; record: string };
  const local = path.join(root, 'build/Release/nodetorch.node');
  if (fs.existsSync(made.addon) && fs.existsSync(made.record) && (!fs.existsSync(local) || mtime(made.addon) >= mtime(local))) {
    copy(made.addon, path.join(stage, prebuild.addon));
    copy(made.record, path.join(stage, prebuild.record));
    return;
  }
  if (!fs.existsSync(local)) throw new Error('no binary to pack: run `npm run rebuild` or `npm run prebuild` first');
  copy(local, path.join(stage, prebuild.addon));
  const rec = JSON.parse(fs.readFileSync(path.join(root, 'build/Release/nodetorch-build.json'), 'utf8')) as { builtBy: string };
  fs.writeFileSync(path.join(stage, prebuild.record), prebuildRecord(found, rec.builtBy));
}

/** A folder holding only node, npm, npx and sh (npm runs scripts with it): no compiler, no Python. */
function bareBin(): string {
  const dir = path.join(tmp, 'bin');
  fs.mkdirSync(dir);
  fs.symlinkSync(process.execPath, path.join(dir, 'node'));
  fs.symlinkSync('/bin/sh', path.join(dir, 'sh'));
  for (const cmd of ['npm', 'npx']) {
    const where = execFileSync('/bin/sh', ['-c', `command -v ${cmd}`], { env, encoding: 'utf8' }).trim();
    fs.symlinkSync(where, path.join(dir, cmd));
  }
  return dir;
}

beforeAll(() => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'nodetorch-pack-')));
  const stage = path.join(tmp, 'stage');
  for (const f of sourceFiles()) copy(path.join(root, f), path.join(stage, f));
  // npm 9 (Debian 13) runs `prepare` on pack even with --ignore-scripts, and it would compile lib/,
  // which the stage does not have: the staged manifest leaves that development script out.
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  delete manifest.scripts.prepare;
  fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify(manifest, null, 2));
  stageDist(stage);
  stagePrebuild(stage);

  // --ignore-scripts: the prepare script would compile lib/, which the stage does not have.
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp],
    { cwd: stage, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const [{ filename, files }] = JSON.parse(out) as { filename: string; files: { path: string }[] }[];
  packed = files.map((f) => f.path).sort();

  proj = path.join(tmp, 'project');
  fs.mkdirSync(proj);
  fs.writeFileSync(path.join(proj, 'package.json'), JSON.stringify({ name: 'uses-nodetorch', version: '1.0.0', private: true }));
  bin = bareBin();
  // npm's defaults otherwise: --prefer-offline only reads the warm cache first, --foreground-scripts
  // only shows what install scripts print.
  const r = spawnSync(path.join(bin, 'npm'), ['install', '--prefer-offline', '--foreground-scripts', path.join(tmp, filename)],
    { cwd: proj, env: { ...env, PATH: bin }, encoding: 'utf8' });
  installOutput = `${r.stdout}\n${r.stderr}`;
  if (r.status !== 0) throw new Error(`npm install failed (exit ${r.status}):\n${installOutput}`);
}, 8 * 60000);

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('the tarball holds the compiled library, the prebuilds and their records, and nothing for development', () => {
  for (const f of ['package.json', 'dist/index.js', 'dist/index.d.ts', 'bin/nodetorch.js', prebuild.addon, prebuild.record,
    ...shipped.flatMap((p) => [p.addon, p.record]), 'scripts/libtorch.js', 'scripts/install.js', 'scripts/build.js']) {
    expect(packed).toContain(f);
  }
  expect(packed.filter((f) => f.startsWith('prebuilds/')).length).toBe(2 * Math.max(1, shipped.length));
  expect(packed.filter((f) => /^(build|node_modules|test|lib|examples|bench|\.ci)\//.test(f))).toEqual([]);
  expect(packed.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
  expect(packed.filter((f) => /^scripts\/(bench|clang-format|prebuild|libtorch2-lane)/.test(f))).toEqual([]);
});

test('npm installs it with no compiler on PATH, and the install step builds nothing', () => {
  const tools = spawnSync('/bin/sh', ['-c', 'for t in g++ gcc cc c++ clang make cmake python3 python; do command -v $t; done'],
    { env: { PATH: bin }, encoding: 'utf8' });
  expect(tools.stdout).toBe('');
  const installed = path.join(proj, 'node_modules/nodetorch');
  // npm 11 runs a dependency's unreviewed install script with a notice (a stricter npm skips it):
  // when it runs, it must find the prebuild and leave the package exactly as packed.
  if (/> nodetorch@\S+ install/.test(installOutput)) {
    expect(installOutput).toContain(`nodetorch: using the prebuilt ${prebuild.addon}`);
  }
  expect(fs.existsSync(path.join(installed, 'build'))).toBe(false);
  expect(walk(installed).sort()).toEqual(packed);
});

test('the seed MNIST model trains for an epoch from the prebuilt binary, and `npx nodetorch info` names it', async () => {
  fs.writeFileSync(path.join(proj, 'train.js'), `'use strict';
const nt = require('nodetorch');
const { loadedFrom, loadedWhy } = require('nodetorch/dist/native');

async function main() {
  nt.manualSeed(1);
  let [[xTrain, yTrain], [xTest, yTest]] = await nt.datasets.mnist.loadData();
  xTrain = xTrain.to('float32').div(255);
  xTest = xTest.to('float32').div(255);
  const model = new nt.Sequential([
    new nt.layers.Flatten({ inputShape: [28, 28] }),
    new nt.layers.Dense(128, { activation: 'relu' }),
    new nt.layers.Dense(10, { activation: 'softmax' }),
  ]);
  model.compile({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
  await model.fit(xTrain, yTrain, { epochs: 1, batchSize: 32, verbose: 2 });
  const [loss, accuracy] = await model.evaluate(xTest, yTest, { verbose: 0 });
  console.log(JSON.stringify({ loadedFrom, loadedWhy, train: xTrain.shape[0], test: xTest.shape[0], loss, accuracy }));
}
main().catch((e) => { console.error(e); process.exit(1); });
`);
  const opts = { cwd: proj, env: { ...env, PATH: bin }, encoding: 'utf8' as const };
  const [train, info] = await Promise.all([
    execFileP(path.join(bin, 'node'), ['train.js'], opts),
    execFileP(path.join(bin, 'npx'), ['nodetorch', 'info'], opts),
  ]);
  const binary = path.join(proj, 'node_modules/nodetorch', prebuild.addon);
  const out = JSON.parse(train.stdout.trim().split('\n').pop() as string);
  expect(out.loadedFrom).toBe(binary);
  expect(out.loadedWhy).toContain(`matching libtorch ${found.version}`);
  expect([out.train, out.test]).toEqual([60000, 10000]);
  expect(out.accuracy).toBeGreaterThan(0.95);
  const field = (name: string) => (info.stdout.match(new RegExp(`^${name}\\s+(.*)$`, 'm')) ?? [])[1];
  expect(field('binary')).toBe(binary);
  expect(field('chosen because')).toContain(`prebuilt for ${libtorchTag(found)}`);
}, 5 * 60000);
