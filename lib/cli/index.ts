// `npx nodetorch <command>`: info, build, help.
import { spawnSync } from 'child_process';
import * as path from 'path';
// distributed: the torchrun-like launcher
import { run } from './run';

const HELP = `Usage: nodetorch <command>

Commands:
  info            versions, devices, threads, which binary was loaded and why, and where
                  libtorch came from
  build [--gyp]   build the native addon from source into build/Release (loaded before any
                  prebuilt binary), with cmake-js, or node-gyp with --gyp; libtorch is found as
                  the install step finds it: LIBTORCH=/path/to/libtorch, LIBTORCH_USE_PYTORCH=1,
                  else the system's CMake package (as root on Debian/Ubuntu, apt-get installs
                  libtorch-dev when none is found). Needs a C++ compiler, cmake and make.
  run [options] script.{js,ts} [args]
                  start the ranks of a distributed job like torchrun (see nodetorch run --help)
  help            this text
`;

const BUILD_HELP = `Usage: nodetorch build [--gyp]

Builds the native addon from source into build/Release/nodetorch.node, which is loaded before any
prebuilt binary. Uses cmake-js, or node-gyp with --gyp (the same sources and flags).

libtorch is found in this order:
  LIBTORCH=/path/to/libtorch          an unpacked libtorch archive (CPU or CUDA)
  LIBTORCH_INCLUDE=... LIBTORCH_LIB=... headers and libraries in separate prefixes
  LIBTORCH_USE_PYTORCH=1              the libtorch of Python's torch (LIBTORCH_PYTHON picks python)
  the system's CMake package          e.g. Debian's libtorch-dev; as root on Debian/Ubuntu, apt-get
                                      installs it when nothing is found (NODETORCH_NO_SYSTEM_INSTALL=1
                                      turns that off)
`;

const root = path.resolve(__dirname, '../..');

/** The image pipeline's decoders (lib/data/images.ts): JPEGs by the native libjpeg path only, PNG and GIF by sharp. */
export function jpegDecoder(nativeJpeg: string): string {
  let sharpVersion = 'sharp not installed';
  try {
    const v = (require('sharp') as { versions?: Record<string, string> }).versions ?? {};
    sharpVersion = `sharp ${v.sharp ?? '?'} (libvips ${v.vips ?? '?'})`;
  } catch {
    // sharp missing: reported as such
  }
  return nativeJpeg
    ? `native ${nativeJpeg} for every JPEG (ICC profiles ignored); ${sharpVersion} for PNG and GIF`
    : 'none: the native decoder found no libjpeg at run time, so JPEGs cannot be read (Debian/Ubuntu: apt install ' +
      `libjpeg62-turbo; Fedora: libjpeg-turbo; macOS: brew install jpeg-turbo); ${sharpVersion} for PNG and GIF`;
}

function info(): number {
  const lines: [string, string][] = [];
  const pkg = require(path.join(root, 'package.json')) as { version: string };
  lines.push(['nodetorch', pkg.version], ['node', process.version], ['platform', `${process.platform}-${process.arch}`]);
  try {
    // Loaded lazily so that `info` still reports when the binary cannot load.
    const nat = require('../native') as typeof import('../native');
    const nt = nat.native;
    const build = nt.build_info();
    const rec = nat.readBuildRecord();
    lines.push(
      ['binary', nat.loadedFrom],
      ['chosen because', nat.loadedWhy],
      ['built by', rec ? `${rec.builtBy} at ${rec.builtAt}` : 'unknown (no nodetorch-build.json)'],
      ['libtorch (built against)', build.libtorch],
      ['libtorch (loaded)', build.libtorchRuntime || 'unknown'],
      ['libtorch (built from)', rec ? rec.libtorch.source : 'unknown'],
      ['libtorch lib dir', rec ? rec.libtorch.libDir : 'unknown'],
      ['CUDA build', String(build.cudaBuild)],
      ['CUDA available', String(nt.cuda_is_available())],
      ['cuDNN available', String(nt.cudnn_is_available())],
      ['CUDA devices', String(nt.cuda_device_count())],
      ['intra-op threads', `${nt.get_num_threads()}${process.env.OMP_NUM_THREADS ? ' (from OMP_NUM_THREADS)' : ' (core count)'}`],
      ['JPEG decoder', jpegDecoder(nt.data_jpeg_info())],
      ['allocator', nt.threads_info().allocator],
      ['oneDNN', build.oneDnn],
      ['TorchScript CPU fusion', build.jitCpuFusion],
    );
  } catch (e) {
    lines.push(['binary', `not loadable: ${(e as Error).message}`]);
    try {
      const found = require(path.join(root, 'scripts/libtorch.js')).discover();
      lines.push(['libtorch found', found ? `${found.version} via ${found.source}` : 'none']);
    } catch (e2) {
      lines.push(['libtorch found', `none (${(e2 as Error).message})`]);
    }
  }
  const w = Math.max(...lines.map(([k]) => k.length));
  for (const [k, v] of lines) console.log(`${k.padEnd(w)}  ${v}`);
  return 0;
}

function build(args: string[]): number {
  if (args.some((a) => a === '--help' || a === '-h' || a === 'help')) {
    process.stdout.write(BUILD_HELP);
    return 0;
  }
  const unknown = args.filter((a) => a !== '--gyp');
  if (unknown.length) {
    process.stderr.write(`nodetorch build: unknown option '${unknown[0]}'\n\n${BUILD_HELP}`);
    return 2;
  }
  // The install step with its build forced on: the same libtorch discovery and apt fallback.
  const env: NodeJS.ProcessEnv = { ...process.env, NODETORCH_REBUILD: '1', NODETORCH_BUILD_GYP: args.includes('--gyp') ? '1' : '0' };
  delete env.NODETORCH_SKIP_BUILD;
  const r = spawnSync(process.execPath, [path.join(root, 'scripts/install.js')], { stdio: 'inherit', env });
  return r.status ?? 1;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'info': return info();
    case 'build': return build(rest);
    case 'run': return run(rest);
    case undefined: case 'help': case '--help': case '-h':
      process.stdout.write(HELP);
      return 0;
    default:
      process.stderr.write(`nodetorch: unknown command '${cmd}'\n\n${HELP}`);
      return 2;
  }
}
