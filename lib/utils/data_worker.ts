// A DataLoader worker thread (lib/utils/data.ts): rebuilds the dataset from its class and fields,
// then loads the batches it is asked for and sends them back as bytes.
import { parentPort } from 'worker_threads';
import { setNumThreads } from '../device';
import { tidy } from '../memory';
import { ClassRef, defaultCollate, decode, encode, WorkerInit, Dataset } from './data';

// One intra-op thread per loader worker, as PyTorch's DataLoader workers: numWorkers workers with
// a team of every core each would outnumber the cores the training step needs (README "Threads and load").
setNumThreads(1);

let dataset: Dataset<unknown> | undefined;
let init: WorkerInit | undefined;

type Ctor = new (...a: unknown[]) => unknown;

/**
 * The variables a class rebuilt from its source may use: globals and nodetorch, by its export names
 * or as a namespace under the name the script gave it (nt, lib_1, import_nodetorch...). Any other
 * variable of the script is out of reach of a worker, and says so with the fix.
 */
function scope(className: string): object {
  const nt = require('..') as Record<string, unknown>;
  const missing = (what: string): never => {
    throw new ReferenceError(`${className} uses ${what}, which a worker thread cannot see: the worker rebuilt ${className} ` +
      `from its source, where only globals and nodetorch are in scope. Export ${className} from its own module (not the ` +
      'main script) and import it, or use numWorkers: 0');
  };
  const namespace = new Proxy(nt, {
    get: (t, k) => (typeof k !== 'string' || k in t ? Reflect.get(t, k) : k === '__esModule' || k === 'default' ? t : missing(`.${k}`)),
  });
  return new Proxy({}, {
    has: (_t, k) => typeof k === 'string' && k !== '__base' && !(k in globalThis),
    get: (_t, k) => {
      if (typeof k !== 'string') return undefined;
      if (k === '__name') return (f: unknown) => f;   // esbuild/tsx keepNames helper
      if (k in nt) return nt[k];
      if (/^(nt|torch|nodetorch|\w+_\d+|import_\w+)$/.test(k)) return namespace;
      return missing(`'${k}'`);
    },
  });
}

function load(ref: ClassRef): Ctor {
  if ('module' in ref) {
    if (/\.[cm]?tsx?$/.test(ref.module)) require('tsx/cjs');   // a .ts module: the loader the main thread used
    return (require(ref.module) as Record<string, Ctor>)[ref.exportName];
  }
  const base = load(ref.base);
  const heritage = /^class\s*[\w$]*\s*extends\s+[^{]*/;
  const source = ref.source.replace(heritage, (m) => `${m.slice(0, m.indexOf('extends'))}extends __base `);
  return new Function('__base', '__scope', `with (__scope) { return (${source}); }`)(base, scope(ref.name)) as Ctor;
}

parentPort?.on('message', (msg: { type: 'init'; init: WorkerInit } | { type: 'load'; id: number; ids: number[] }) => {
  if (msg.type === 'init') {
    init = msg.init;
    try {
      const cls = load(init.dataset.cls);
      // Restored like an unpickled object: the class's prototype with the fields it had, no constructor call.
      dataset = Object.assign(Object.create(cls.prototype as object) as Dataset<unknown>, decode(init.dataset.fields));
    } catch (e) {
      dataset = undefined;
      init = { ...init, failure: (e as Error)?.message ?? String(e) } as WorkerInit;
    }
    return;
  }
  try {
    const failed = (init as { failure?: string } | undefined)?.failure;
    if (failed) throw new Error(`could not rebuild the dataset: ${failed}`);
    const ds = dataset as Dataset<unknown>;
    const transfer: ArrayBuffer[] = [];
    const batch = tidy(() => {
      const samples = msg.ids.map((i) => ds.getItem(i));
      const out = init?.unbatched ? samples[0] : init?.collate ? defaultCollate(samples) : samples;
      return encode(out, 'the batch', transfer);
    });
    parentPort?.postMessage({ id: msg.id, batch }, transfer);
  } catch (e) {
    const err = e as Error;
    parentPort?.postMessage({ id: msg.id, error: { message: err?.message ?? String(e), stack: err?.stack } });
  }
});
