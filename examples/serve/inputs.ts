// Request bodies -> one Float32Array of instances for the model: JSON ({ "inputs": ... }) and raw
// little-endian float32. Every refusal is a RequestError naming what was wrong and what was expected.
import * as os from 'os';

/** A client error: the HTTP status, what was wrong, and what the server expects instead. */
export class RequestError extends Error {
  constructor(readonly statusCode: number, message: string, readonly expected: string) {
    super(message);
    this.name = 'RequestError';
  }
}

/** What the model takes per instance, and how requests must describe it. */
export class InputSpec {
  /** values per instance */
  readonly size: number;
  constructor(readonly shape: readonly number[]) {
    this.size = shape.reduce((a, b) => a * b, 1);
  }
  get shapeText(): string {
    return `[${this.shape.join(', ')}]`;
  }
  get jsonExpected(): string {
    const nested = this.shape.length > 1 ? ` or nested as ${this.shapeText}` : '';
    return `a JSON object { "inputs": [instance, ...] } (or { "inputs": instance }) where each instance is ` +
      `${this.size} finite numbers, flat${nested}`;
  }
  get binaryExpected(): string {
    return `raw little-endian float32 values, ${4 * this.size} bytes (${this.size} values, shape ${this.shapeText}) per instance, ` +
      'at least one instance';
  }
  get expected(): string {
    return `Content-Type application/json with ${this.jsonExpected}; or Content-Type application/octet-stream with ${this.binaryExpected}`;
  }
}

export interface Instances {
  data: Float32Array;
  rows: number;
}

const LITTLE_ENDIAN = os.endianness() === 'LE';

/** A raw float32 body: rows = bytes / (4 * values per instance); NaN and infinities are refused. */
export function fromBinary(body: Buffer, spec: InputSpec): Instances {
  if (!Buffer.isBuffer(body) || body.length === 0) {
    throw new RequestError(400, 'the request body is empty', spec.binaryExpected);
  }
  const per = 4 * spec.size;
  if (body.length % per !== 0) {
    throw new RequestError(400, `the body has ${body.length} bytes, not a multiple of ${per} (4 bytes x ${spec.size} values ` +
      `of one ${spec.shapeText} instance)`, spec.binaryExpected);
  }
  const n = body.length / 4;
  // A Float32Array view needs 4-byte alignment; Node pools small buffers at any offset, so copy then.
  let data: Float32Array;
  if (LITTLE_ENDIAN && body.byteOffset % 4 === 0) {
    data = new Float32Array(body.buffer, body.byteOffset, n);
  } else {
    data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = body.readFloatLE(4 * i);
  }
  for (let i = 0; i < n; i++) {
    const v = data[i];
    if (v - v !== 0) {
      throw new RequestError(400, `instance ${Math.floor(i / spec.size)} has ${v} at value ${i % spec.size}; only finite numbers are accepted`,
        spec.binaryExpected);
    }
  }
  return { data, rows: n / spec.size };
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 20 ? `${v.slice(0, 20)}...` : v)}`;
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

/** How many array levels deep v goes, following first elements. */
function depth(v: unknown): number {
  let d = 0;
  while (Array.isArray(v) && v.length > 0) {
    d++;
    v = v[0];
  }
  return Array.isArray(v) ? d + 1 : d;
}

/**
 * A JSON body { inputs }: a batch of instances or one instance, each flat (spec.size numbers) or
 * nested as the model's input shape. Values are written straight into one Float32Array.
 */
export function fromJson(body: unknown, spec: InputSpec): Instances {
  const expected = spec.jsonExpected;
  if (body === undefined || body === null || body === '') throw new RequestError(400, 'the request body is empty', expected);
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new RequestError(400, `the body is ${describe(body)}, not an object with "inputs"`, expected);
  }
  if (!('inputs' in body)) {
    const keys = Object.keys(body);
    throw new RequestError(400, `the body has no "inputs" field${keys.length ? ` (it has ${keys.map((k) => JSON.stringify(k)).join(', ')})` : ''}`,
      expected);
  }
  const inputs = (body as { inputs: unknown }).inputs;
  if (!Array.isArray(inputs)) throw new RequestError(400, `"inputs" is ${describe(inputs)}, not an array`, expected);
  if (inputs.length === 0) throw new RequestError(400, '"inputs" is empty', expected);
  const rank = spec.shape.length;
  const d = depth(inputs);
  // One instance is depth 1 (flat) or rank (nested); a batch one level more. A depth that fits both
  // (rank 2: a batch of flat instances or one nested instance) is told apart by the inner length.
  let batch: boolean;
  let nested: boolean;
  if (d === 1) [batch, nested] = [false, false];
  else if (d === 2 && rank === 2) {
    const inner = (inputs[0] as unknown[]).length;
    if (inner !== spec.size && inner !== spec.shape[1]) {
      throw new RequestError(400, `inputs[0] is an array of ${inner}; expected an instance of ${spec.size} numbers (flat) or ` +
        `${spec.shape[0]} arrays of ${spec.shape[1]} (nested as ${spec.shapeText})`, expected);
    }
    batch = inner === spec.size;
    nested = !batch;
  } else if (d === 2) [batch, nested] = [true, rank === 1];
  else if (d === rank) [batch, nested] = [false, true];
  else if (d === rank + 1) [batch, nested] = [true, true];
  else {
    throw new RequestError(400, `"inputs" is nested ${d} levels deep; an instance of shape ${spec.shapeText} is 1 level (flat) or ` +
      `${rank} (nested), a batch one more`, expected);
  }
  const list = batch ? inputs : [inputs];
  const data = new Float32Array(list.length * spec.size);
  const shape = nested ? spec.shape : [spec.size];
  const ctx = nested ? `an instance is nested as ${spec.shapeText}` : `an instance is ${spec.size} numbers, flat or nested as ${spec.shapeText}`;
  list.forEach((inst, i) => fill(inst, shape, 0, data, i * spec.size, batch ? `inputs[${i}]` : 'inputs', ctx, expected));
  return { data, rows: list.length };
}

/** Copies one (sub-)array of the expected shape into out at offset; refuses any other shape or value. */
function fill(v: unknown, shape: readonly number[], dim: number, out: Float32Array, offset: number, where: string, ctx: string, expected: string): void {
  const len = shape[dim];
  if (!Array.isArray(v) || v.length !== len) {
    throw new RequestError(400, `${where} is ${describe(v)}; expected an array of ${len} (${ctx})`, expected);
  }
  if (dim === shape.length - 1) {
    for (let k = 0; k < len; k++) {
      const x = v[k];
      if (typeof x !== 'number') throw new RequestError(400, `${where}[${k}] is ${describe(x)}; only numbers are accepted`, expected);
      const f = Math.fround(x);
      if (f - f !== 0) throw new RequestError(400, `${where}[${k}] is ${x}, outside float32's finite range`, expected);
      out[offset + k] = f;
    }
    return;
  }
  const stride = shape.slice(dim + 1).reduce((a, b) => a * b, 1);
  for (let k = 0; k < len; k++) fill(v[k], shape, dim + 1, out, offset + k * stride, `${where}[${k}]`, ctx, expected);
}

/**
 * A JSON body for a model with several inputs: { "inputs": { name: value, ... } } or { "inputs":
 * [value, ...] } in the model's input order, each value read as fromJson reads a single input; the
 * instances of all inputs are then laid out one after another per instance (the order runBatch splits).
 */
export function fromJsonInputs(body: unknown, specs: InputSpec[], names: string[]): Instances {
  const expected = `a JSON object { "inputs": { ${names.map((n, i) => `"${n}": ${specs[i].shapeText} instances`).join(', ')} } ` +
    `(or "inputs" as an array of ${names.length} values in that order), each value as for a one-input model`;
  if (body === undefined || body === null || body === '') throw new RequestError(400, 'the request body is empty', expected);
  if (typeof body !== 'object' || Array.isArray(body) || !('inputs' in body)) {
    throw new RequestError(400, `the body is ${describe(body)}${typeof body === 'object' && !Array.isArray(body) ? ' without "inputs"' : ''}`, expected);
  }
  const inputs = (body as { inputs: unknown }).inputs;
  let values: unknown[];
  if (Array.isArray(inputs)) {
    if (inputs.length !== names.length) throw new RequestError(400, `"inputs" is an array of ${inputs.length}; the model has ${names.length} inputs (${names.join(', ')})`, expected);
    values = inputs;
  } else if (inputs !== null && typeof inputs === 'object') {
    const keys = Object.keys(inputs);
    const missing = names.filter((n) => !keys.includes(n));
    const extra = keys.filter((k) => !names.includes(k));
    if (missing.length || extra.length) {
      throw new RequestError(400, `"inputs" ${missing.length ? `lacks ${missing.map((n) => JSON.stringify(n)).join(', ')}` : ''}` +
        `${missing.length && extra.length ? ' and ' : ''}${extra.length ? `has unknown ${extra.map((n) => JSON.stringify(n)).join(', ')}` : ''}`, expected);
    }
    values = names.map((n) => (inputs as Record<string, unknown>)[n]);
  } else {
    throw new RequestError(400, `"inputs" is ${describe(inputs)}, not an object keyed by input name or an array`, expected);
  }
  const parts = values.map((v, i) => {
    try {
      return fromJson({ inputs: v }, specs[i]);
    } catch (e) {
      if (e instanceof RequestError) throw new RequestError(e.statusCode, `input '${names[i]}': ${e.message}`, expected);
      throw e;
    }
  });
  const rows = parts[0].rows;
  const bad = parts.findIndex((p) => p.rows !== rows);
  if (bad >= 0) throw new RequestError(400, `input '${names[bad]}' has ${parts[bad].rows} instances but '${names[0]}' has ${rows}`, expected);
  const total = specs.reduce((n, s) => n + s.size, 0);
  const data = new Float32Array(rows * total);
  let at = 0;
  parts.forEach((p, i) => {
    const size = specs[i].size;
    for (let r = 0; r < rows; r++) data.set(p.data.subarray(r * size, (r + 1) * size), r * total + at);
    at += size;
  });
  return { data, rows };
}
