// libtorch discovery (scripts/libtorch.js), the CLI, and the demo that `npm start` runs.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.resolve(__dirname, '..');
const { discover, HOW_TO } = require('../scripts/libtorch.js');

function fakeLibtorch(version: string, withCuda = false): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'libtorch-'));
  const api = path.join(dir, 'include/torch/csrc/api/include/torch');
  fs.mkdirSync(api, { recursive: true });
  fs.writeFileSync(path.join(api, 'torch.h'), '');
  const [maj, min, pat] = version.split('.');
  fs.writeFileSync(path.join(api, 'version.h'),
    `#define TORCH_VERSION_MAJOR ${maj}\n#define TORCH_VERSION_MINOR ${min}\n#define TORCH_VERSION_PATCH ${pat}\n`);
  fs.mkdirSync(path.join(dir, 'lib'));
  for (const l of ['torch', 'torch_cpu', 'c10', ...(withCuda ? ['torch_cuda', 'c10_cuda'] : [])]) {
    fs.writeFileSync(path.join(dir, `lib/lib${l}.so`), '');
  }
  fs.mkdirSync(path.join(dir, 'share/cmake/Torch'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'share/cmake/Torch/TorchConfig.cmake'),
    'set(TORCH_CXX_FLAGS "-D_GLIBCXX_USE_CXX11_ABI=0")\n');
  fs.writeFileSync(path.join(dir, 'build-version'), `${version}+cu121\n`);
  return dir;
}

describe('libtorch discovery', () => {
  test('LIBTORCH points at an unpacked archive layout', () => {
    const dir = fakeLibtorch('2.6.0', true);
    const info = discover({ LIBTORCH: dir });
    expect(info.version).toBe('2.6.0');
    expect(info.source).toContain('LIBTORCH=');
    expect(info.libDir).toBe(path.join(dir, 'lib'));
    expect(info.libs).toEqual(['torch', 'torch_cpu', 'c10', 'torch_cuda', 'c10_cuda']);
    expect(info.cuda).toBe(true);
    expect(info.cxx11Abi).toBe(0);
    expect(info.includeDirs).toContain(path.join(dir, 'include/torch/csrc/api/include'));
  });

  test('LIBTORCH_INCLUDE and LIBTORCH_LIB split prefixes', () => {
    const dir = fakeLibtorch('2.1.2');
    const info = discover({ LIBTORCH_INCLUDE: dir, LIBTORCH_LIB: dir });
    expect(info.version).toBe('2.1.2');
    expect(info.cuda).toBe(false);
    expect(() => discover({ LIBTORCH_INCLUDE: dir })).toThrow(/must be set together/);
  });

  test('a LIBTORCH without libtorch in it is an error naming what is missing', () => {
    expect(() => discover({ LIBTORCH: '/nonexistent/libtorch' })).toThrow(/does not exist/);
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'libtorch-empty-'));
    expect(() => discover({ LIBTORCH: empty })).toThrow(/torch\/torch.h/);
  });

  test('the system CMake package is found (Debian libtorch-dev)', () => {
    const info = discover({});
    expect(info).not.toBeNull();
    expect(info.version).toMatch(/^\d+\.\d+\.\d+$/);
  });

  test('LIBTORCH_USE_PYTORCH=1 asks Python for its torch', () => {
    const py = '/usr/bin/python3';
    const hasTorch = fs.existsSync(py) && spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
    if (!hasTorch) {
      expect(() => discover({ LIBTORCH_USE_PYTORCH: '1', LIBTORCH_PYTHON: '/nonexistent/python', PATH: '' }))
        .toThrow(/no Python with torch/);
      return;
    }
    const info = discover({ LIBTORCH_USE_PYTORCH: '1', LIBTORCH_PYTHON: py });
    expect(info.source).toContain('LIBTORCH_USE_PYTORCH');
    expect(info.cxx11Abi === 0 || info.cxx11Abi === 1).toBe(true);
    expect(fs.existsSync(info.libDir)).toBe(true);
  });

  test('the message when nothing is found lists every way to provide libtorch', () => {
    const r = spawnSync(process.execPath, [path.join(root, 'scripts/libtorch.js')], {
      env: { PATH: process.env.PATH, LIBTORCH: '/nonexistent' }, encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    for (const way of ['libtorch-dev', 'LIBTORCH=', 'LIBTORCH_INCLUDE', 'LIBTORCH_USE_PYTORCH=1']) {
      expect(r.stderr).toContain(way);
      expect(HOW_TO).toContain(way);
    }
  });

  test('the install step without libtorch and without apt permission explains the fixes', () => {
    const r = spawnSync(process.execPath, [path.join(root, 'scripts/install.js')], {
      env: { PATH: process.env.PATH, LIBTORCH: '/nonexistent', NODETORCH_NO_SYSTEM_INSTALL: '1' }, encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/install failed: LIBTORCH=\/nonexistent does not exist/);
  });
});

describe('command line', () => {
  const tsx = path.join(root, 'node_modules/.bin/tsx');
  const cli = (args: string[]) => spawnSync(tsx, ['-e', `require('./lib/cli').main(${JSON.stringify(args)}).then((c) => process.exit(c))`],
    { cwd: root, encoding: 'utf8' });

  test('info prints versions, libtorch origin, devices and threads', () => {
    const r = cli(['info']);
    expect(r.status).toBe(0);
    const nt = require('../lib');
    expect(r.stdout).toContain(`nodetorch                 ${nt.version.nodetorch}`);
    expect(r.stdout).toMatch(/libtorch \(built against\)\s+\d+\.\d+\.\d+/);
    expect(r.stdout).toMatch(/libtorch \(built from\)\s+\S+/);
    expect(r.stdout).toMatch(/^binary\s+\S+\.node$/m);
    expect(r.stdout).toMatch(/^chosen because\s+(local build|prebuilt for libtorch\d+_\d+\.(cpu|cuda), matching libtorch)/m);
    expect(r.stdout).toMatch(/CUDA available\s+(true|false)/);
    expect(r.stdout).toMatch(/intra-op threads\s+\d+/);
  });

  test('help and unknown commands', () => {
    expect(cli(['--help']).stdout).toContain('Usage: nodetorch');
    const bad = cli(['frobnicate']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("unknown command 'frobnicate'");
  });
});

describe('npm start', () => {
  test('trains the seed MNIST model (examples/mnist-mlp.ts, run in quick mode by test/examples.test.ts)', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toBe('tsx examples/mnist-mlp.ts');
    expect(fs.existsSync(path.join(root, 'examples/mnist-mlp.ts'))).toBe(true);
  });
});
