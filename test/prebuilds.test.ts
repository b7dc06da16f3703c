// Choosing a binary at load: a local build first, else the prebuild whose libtorch tag matches
// the libtorch found here; otherwise a message naming that libtorch and the fixes.
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.resolve(__dirname, '..');
const built = path.join(root, 'build/Release/nodetorch.node');
const { discover } = require('../scripts/libtorch.js');
const found = discover();
const [maj, min] = String(found.version).split('.');
const tag = `libtorch${maj}_${min}.${found.cuda ? 'cuda' : 'cpu'}`;

let pkg: string;

beforeAll(() => {
  // A package laid out as npm installs it: compiled dist/, scripts/, prebuilds/, no build/.
  pkg = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetorch-pkg-'));
  execFileSync(path.join(root, 'node_modules/.bin/tsc'), ['-p', path.join(root, 'tsconfig.build.json'), '--outDir', path.join(pkg, 'dist')]);
  fs.cpSync(path.join(root, 'scripts'), path.join(pkg, 'scripts'), { recursive: true });
  fs.copyFileSync(path.join(root, 'package.json'), path.join(pkg, 'package.json'));
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(pkg, 'node_modules'));
}, 120000);

afterAll(() => fs.rmSync(pkg, { recursive: true, force: true }));

function load(prebuilds: string[], env: NodeJS.ProcessEnv = process.env) {
  const dir = path.join(pkg, 'prebuilds', `${process.platform}-${process.arch}`);
  fs.rmSync(path.join(pkg, 'prebuilds'), { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  for (const name of prebuilds) fs.copyFileSync(built, path.join(dir, name));
  return spawnSync(process.execPath, ['-e',
    `const nt = require(${JSON.stringify(path.join(pkg, 'dist'))}); const n = require(${JSON.stringify(path.join(pkg, 'dist/native'))});` +
    'console.log(JSON.stringify({ from: n.loadedFrom, why: n.loadedWhy, sum: nt.ones([3]).sum().item() }))'],
  { encoding: 'utf8', env });
}

test('the prebuild tagged with the libtorch found here is loaded', () => {
  const r = load(['nodetorch.glibc.libtorch0_1.cpu.node', `nodetorch.glibc.${tag}.node`]);
  expect(r.stderr).toBe('');
  const out = JSON.parse(r.stdout);
  expect(path.basename(out.from)).toBe(`nodetorch.glibc.${tag}.node`);
  expect(out.why).toContain(`matching libtorch ${found.version}`);
  expect(out.sum).toBe(3);
});

test('no fitting prebuild: the error names the libtorch found, what is prebuilt, and the fixes', () => {
  const r = load(['nodetorch.glibc.libtorch0_1.cpu.node']);
  expect(r.status).not.toBe(0);
  expect(r.stderr).toContain(`no prebuilt binary fits libtorch ${found.version}`);
  expect(r.stderr).toContain('prebuilt for: libtorch0_1.cpu');
  for (const fix of ['npx nodetorch build', 'npm install-scripts approve nodetorch', 'LIBTORCH=']) {
    expect(r.stderr).toContain(fix);
  }
});

test('a prebuild for another libc is not chosen', () => {
  const r = load([`nodetorch.musl.${tag}.node`]);
  expect(r.status).not.toBe(0);
  expect(r.stderr).toContain('no prebuilt binary fits');
});

test('no libtorch at all: the error says so and lists the fixes', () => {
  const r = load([`nodetorch.glibc.${tag}.node`], { PATH: process.env.PATH, LIBTORCH: '/nonexistent/libtorch' });
  expect(r.status).not.toBe(0);
  expect(r.stderr).toContain('no libtorch was found on this machine');
  expect(r.stderr).toContain(`prebuilt for: ${tag}`);
  expect(r.stderr).toContain('npx nodetorch build');
});
