// Shared test helpers: approximate comparison of nested arrays and the device list.
import * as nt from '../lib';

export const devices = nt.availableDevices();

export function flat(x: unknown): number[] {
  if (Array.isArray(x)) return x.flatMap(flat);
  return [Number(x)];
}

/** Asserts a tensor equals the expected nested values within tol (shape included). */
export function expectTensor(t: nt.Tensor, expected: unknown, tol = 1e-6): void {
  const got = t.toArray();
  const shapeOf = (v: unknown): number[] => (Array.isArray(v) ? [v.length, ...shapeOf(v[0])] : []);
  expect([...t.shape]).toEqual(shapeOf(expected));
  const g = flat(got);
  const e = flat(expected);
  for (let i = 0; i < e.length; i++) {
    if (Number.isNaN(e[i])) expect(g[i]).toBeNaN();
    else if (!Number.isFinite(e[i])) expect(g[i]).toBe(e[i]);
    else expect(Math.abs(g[i] - e[i])).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(e[i])));
  }
}

/**
 * The Python interpreter that has torch and numpy, for the interop tests: $NODETORCH_PYTHON, else the
 * first python3 on PATH that has them, else /usr/bin/python3 (python3 on PATH may be a venv without
 * torch while the system's has it). null when none has; the suites then skip and say so.
 */
export function torchPython(): string | null {
  if (cachedPython !== undefined) return cachedPython;
   
  const { spawnSync } = require('child_process') as typeof import('child_process');
   
  const path = require('path') as typeof import('path');
  const onPath = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean).map((d) => path.join(d, 'python3'));
  const candidates = [process.env.NODETORCH_PYTHON, ...onPath, '/usr/bin/python3'].filter((p): p is string => !!p);
  cachedPython = null;
  for (const py of [...new Set(candidates)]) {
    const r = spawnSync(py, ['-c', 'import torch, numpy, sys; print(sys.executable, torch.__version__)'], { encoding: 'utf8', timeout: 60_000 });
    if (r.status === 0) {
      cachedPython = py;
      console.log(`interop tests run ${py} (${r.stdout.trim()})`);
      break;
    }
  }
  return cachedPython;
}
let cachedPython: string | null | undefined;
