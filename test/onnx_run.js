// Runs ONNX files in onnxruntime-node outside jest (whose realm has other typed-array classes than
// onnxruntime's native outputs): stdin [{ file, dtype, shape, data }], stdout [{ dims, data }] or { error }.
const ort = require('onnxruntime-node');

async function main() {
  let input = '';
  for await (const chunk of process.stdin) input += chunk;
  const out = [];
  for (const c of JSON.parse(input)) {
    try {
      const s = await ort.InferenceSession.create(c.file);
      const data = c.dtype === 'int64' ? BigInt64Array.from(c.data, BigInt) : Float32Array.from(c.data);
      const r = await s.run({ [s.inputNames[0]]: new ort.Tensor(c.dtype, data, c.shape) });
      const t = r[s.outputNames[0]];
      out.push({ dims: Array.from(t.dims), data: Array.from(t.data, Number), inputs: s.inputNames, outputs: s.outputNames });
      await s.release();
    } catch (e) {
      out.push({ error: `${c.file}: ${e.message}` });
    }
  }
  process.stdout.write(JSON.stringify(out));
}
main();
