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
