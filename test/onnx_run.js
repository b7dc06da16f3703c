// Runs ONNX files in onnxruntime-node outside jest (whose realm has other typed-array classes than
// onnxruntime's native outputs). stdin: [{ file, feeds: [{ dtype, shape, data }] }] (one feed per
// graph input, in order); stdout: [{ outputs: [{ dims, data }] }] (every graph output) or { error }.
const ort = require('onnxruntime-node');

async function main() {
  let input = '';
  for await (const chunk of process.stdin) input += chunk;
  const out = [];
  for (const c of JSON.parse(input)) {
    try {
      const s = await ort.InferenceSession.create(c.file);
      const feeds = {};
      s.inputNames.forEach((name, i) => {
        const f = c.feeds[i];
        const data = f.dtype === 'int64' ? BigInt64Array.from(f.data, BigInt) : Float32Array.from(f.data);
        feeds[name] = new ort.Tensor(f.dtype, data, f.shape);
      });
      const r = await s.run(feeds);
      out.push({ outputs: s.outputNames.map((n) => ({ dims: Array.from(r[n].dims), data: Array.from(r[n].data, Number) })) });
      await s.release();
    } catch (e) {
      out.push({ error: `${c.file}: ${e.message}` });
    }
  }
  process.stdout.write(JSON.stringify(out));
}
main();
