// Handle hygiene (issue 19): JS holds tensors as numbers (slot + generation, native/handles.h). A
// number that was never handed out, or one of a disposed tensor, must never be taken as a live tensor.
import * as nt from '../lib';
import { native } from '../lib/native';

describe('handles', () => {
  test('a number that was never handed out is not taken as a live tensor', () => {
    const live = Array.from({ length: 64 }, () => nt.ones([1]));
    const handles = new Set(live.map((t) => t._h));
    // slot i with a small generation: what a caller guessing handles would try (before the fix,
    // slots started at generation 1, so these numbers were the live tensors of this process)
    let tried = 0;
    for (let gen = 1; gen <= 64; gen++) {
      for (let slot = 0; slot < 256; slot++) {
        const guess = gen * 2 ** 24 + slot;
        if (handles.has(guess)) continue;
        tried++;
        expect(() => native.tensor_clone(guess)).toThrow(/not a live Tensor/);
      }
    }
    expect(tried).toBeGreaterThan(16000);
    // the real handle still works, and a disposed one does not
    const t = live[0];
    const h = t._h;
    expect(native.tensor_item(h)).toBe(1);
    t.dispose();
    expect(() => native.tensor_clone(h)).toThrow(/not a live Tensor/);
    for (const u of live) u.dispose();
  });
});

describe('typed arrays from another realm', () => {
  test('nt.tensor takes a Float32Array made in a vm context (as a worker message in jest is)', () => {
     
    const vm = require('vm') as typeof import('vm');
    const foreign = vm.runInNewContext('new Float32Array([1.5, -2, 3])') as Float32Array;
    expect(foreign instanceof Float32Array).toBe(false);
    const t = nt.tensor(foreign);
    expect(t.dtype).toBe('float32');
    expect(Array.from(t.dataSync() as Float32Array)).toEqual([1.5, -2, 3]);
    const u = nt.tensor(vm.runInNewContext('new Uint16Array([65535, 1])') as Uint16Array);
    expect(u.dtype).toBe('int32');
    expect(Array.from(u.dataSync() as Int32Array)).toEqual([65535, 1]);
  });
});
