// The one pickle reader of the project: a restricted machine that runs the data opcodes plain
// values need and hands every global (by name, never looked up) to its caller's hooks, so no code
// from a file ever runs. torch.save files (torchfile.ts) and NumPy object arrays (datasets/npz.ts)
// go through it, each with the few globals its format needs.
import { typeOfValue } from '../tensor';

/** A Python global named by the pickle (module.name): a name only, never resolved. */
export class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}
  /** 'module.name' */
  get full(): string {
    return `${this.module}.${this.name}`;
  }
}
/** A Python tuple. */
export class PyTuple {
  constructor(readonly items: unknown[]) {}
}
/** A Python dict, keys as the pickle has them. */
export class PyDict {
  readonly map = new Map<unknown, unknown>();
}

/** What a format lets its pickles do: everything not here is refused. */
export interface PickleHooks {
  /** the pickle's name in messages ('data.pkl') */
  what: string;
  /** an Error for malformed data */
  bad: (m: string) => Error;
  /** an Error for something well-formed the format does not allow */
  refuse: (what: string) => Error;
  /** REDUCE / NEWOBJ: what calling a global with args makes (or throw refuse) */
  call: (fn: PyGlobal, args: PyTuple) => unknown;
  /** BUILD: sets state on obj (or throw refuse) */
  build: (obj: unknown, state: unknown) => void;
  /** BINPERSID: the object a persistent id stands for; absent: refused */
  persistentLoad?: (pid: unknown) => unknown;
}

/**
 * Runs a pickle on the restricted machine: the data opcodes of protocols 0-5 that plain values
 * need, globals only as names (PyGlobal) handed to hooks.call, never looked up or run. Returns
 * the unpickled value (PyDict, PyTuple, arrays, numbers, strings, Buffers, what hooks made).
 */
export function unpickle(pkl: Buffer, hooks: PickleHooks): unknown {
  const what = hooks.what;
  const ctx = { bad: hooks.bad };
  let pos = 0;
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  const need = (n: number): number => {
    if (pos + n > pkl.byteLength) throw ctx.bad(`${what} ends in the middle of an instruction (truncated or corrupt)`);
    const at = pos;
    pos += n;
    return at;
  };
  const pop = (): unknown => {
    if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1])) throw ctx.bad(`${what} pops an empty stack`);
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) throw ctx.bad(`${what} reads an empty stack`);
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) throw ctx.bad(`${what} closes a mark it never opened`);
    return stack.splice(m);
  };
  const line = (): string => {
    const end = pkl.indexOf(0x0a, pos);
    if (end < 0 || end - pos > 1000) throw ctx.bad(`${what} has an unterminated text field`);
    const s = pkl.toString('latin1', pos, end);
    pos = end + 1;
    return s;
  };
  const str = (n: number, enc: BufferEncoding): string => {
    const at = need(n);
    return pkl.toString(enc, at, at + n);
  };
  const setItems = (target: unknown, items: unknown[]): void => {
    if (!(target instanceof PyDict)) throw ctx.bad(`${what} sets items on something that is not a dict`);
    if (items.length % 2) throw ctx.bad(`${what} sets a key without a value`);
    for (let i = 0; i < items.length; i += 2) {
      const k = items[i];
      if (typeof k !== 'string' && typeof k !== 'number' && typeof k !== 'bigint' && typeof k !== 'boolean' && k !== null) {
        throw hooks.refuse(`a dict key is ${typeOfValue(k)}`);
      }
      target.map.set(typeof k === 'bigint' ? Number(k) : k, items[i + 1]);
    }
  };
  const appendItems = (target: unknown, items: unknown[]): void => {
    if (!Array.isArray(target)) throw ctx.bad(`${what} appends to something that is not a list`);
    for (const x of items) target.push(x);
  };
  for (;;) {
    const op = pkl[need(1)];
    switch (op) {
      case 0x80: need(1); break; // PROTO
      case 0x95: need(8); break; // FRAME
      case 0x2e: { // STOP
        if (stack.length !== 1 || marks.length) throw ctx.bad(`${what} stops with a malformed stack`);
        return stack[0];
      }
      case 0x28: marks.push(stack.length); break; // MARK
      case 0x29: stack.push(new PyTuple([])); break; // EMPTY_TUPLE
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x7d: stack.push(new PyDict()); break; // EMPTY_DICT
      case 0x74: stack.push(new PyTuple(popMark())); break; // TUPLE
      case 0x85: stack.push(new PyTuple([pop()])); break; // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); stack.push(new PyTuple([a, b])); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push(new PyTuple([a, b, c])); break; } // TUPLE3
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x64: { const d = new PyDict(); setItems(d, popMark()); stack.push(d); break; } // DICT
      case 0x61: { const v = pop(); appendItems(top(), [v]); break; } // APPEND
      case 0x65: { const items = popMark(); appendItems(top(), items); break; } // APPENDS
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const items = popMark(); setItems(top(), items); break; } // SETITEMS
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4a: stack.push(pkl.readInt32LE(need(4))); break; // BININT
      case 0x4b: stack.push(pkl[need(1)]); break; // BININT1
      case 0x4d: stack.push(pkl.readUInt16LE(need(2))); break; // BININT2
      case 0x8a: case 0x8b: { // LONG1, LONG4
        const n = op === 0x8a ? pkl[need(1)] : pkl.readUInt32LE(need(4));
        if (n > 16) throw ctx.bad(`${what} holds a ${n}-byte integer`);
        const at = need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(pkl[at + i]);
        if (n && pkl[at + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47: stack.push(pkl.readDoubleBE(need(8))); break; // BINFLOAT
      case 0x58: stack.push(str(pkl.readUInt32LE(need(4)), 'utf8')); break; // BINUNICODE
      case 0x8c: stack.push(str(pkl[need(1)], 'utf8')); break; // SHORT_BINUNICODE
      case 0x54: stack.push(str(pkl.readUInt32LE(need(4)), 'latin1')); break; // BINSTRING
      case 0x55: stack.push(str(pkl[need(1)], 'latin1')); break; // SHORT_BINSTRING
      case 0x63: { const m = line(); const n = line(); stack.push(new PyGlobal(m, n)); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const n = pop();
        const m = pop();
        if (typeof m !== 'string' || typeof n !== 'string') throw ctx.bad(`${what} names a global with non-strings`);
        stack.push(new PyGlobal(m, n));
        break;
      }
      case 0x71: memo.set(pkl[need(1)], top()); break; // BINPUT
      case 0x72: memo.set(pkl.readUInt32LE(need(4)), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: case 0x6a: { // BINGET, LONG_BINGET
        const k = op === 0x68 ? pkl[need(1)] : pkl.readUInt32LE(need(4));
        if (!memo.has(k)) throw ctx.bad(`${what} reads memo slot ${k}, which was never written`);
        stack.push(memo.get(k));
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (!hooks.persistentLoad) throw hooks.refuse(`${what} holds a persistent object`);
        stack.push(hooks.persistentLoad(pid));
        break;
      }
      case 0x52: case 0x81: { // REDUCE, NEWOBJ
        const args = pop();
        const fn = pop();
        if (!(fn instanceof PyGlobal)) throw hooks.refuse(`it calls ${typeOfValue(fn)}, which is not a known global`);
        if (!(args instanceof PyTuple)) throw ctx.bad(`arguments to ${fn.full} are not a tuple`);
        stack.push(hooks.call(fn, args));
        break;
      }
      case 0x62: { const state = pop(); hooks.build(top(), state); break; } // BUILD
      case 0x42: stack.push(Buffer.from(pkl.subarray(need(pkl.readUInt32LE(need(4))), pos))); break; // BINBYTES
      case 0x43: stack.push(Buffer.from(pkl.subarray(need(pkl[need(1)]), pos))); break; // SHORT_BINBYTES
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      default:
        throw hooks.refuse(`${what} uses pickle opcode 0x${op.toString(16)}, which the restricted unpickler does not run`);
    }
    if (stack.length > 1_000_000 || marks.length > 10_000) throw ctx.bad(`${what} grows its stack without bound`);
  }
}
