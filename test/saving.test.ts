// Saving: safetensors read/write and hostile files, atomic writes surviving SIGKILL, model.save /
// loadModel round trips, ModelCheckpoint filenames, BackupAndRestore resuming after a kill.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawn, spawnSync } from 'child_process';
import * as nt from '../lib';
import { saveSafetensors, loadSafetensors, readSafetensors } from '../lib/io';
import { registerLayer, registeredLayers } from '../lib/keras/saving';
import { ModelCheckpoint, BackupAndRestore, formatFilepath } from '../lib/keras/checkpoint_callbacks';

const { Sequential, layers } = nt;
const root = path.resolve(__dirname, '..');
// node itself with tsx's loader (not the tsx wrapper), so SIGKILL reaches the process that writes.
const node = (script: string) => [process.execPath, ['--import', 'tsx', script]] as const;
let tmp: string;
beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nt-saving-')); });
const children: ReturnType<typeof spawn>[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
});
const p = (...s: string[]) => path.join(tmp, ...s);

function maxDiff(a: nt.Tensor, b: nt.Tensor): number {
  expect([...a.shape]).toEqual([...b.shape]);
  return Number(a.sub(b).abs().max().item());
}

/** A file of an 8-byte length, a header and data, to forge hostile safetensors. */
function forge(file: string, header: string, data: Buffer = Buffer.alloc(0), len?: bigint): string {
  const h = Buffer.from(header);
  const l = Buffer.alloc(8);
  l.writeBigUInt64LE(len ?? BigInt(h.length));
  fs.writeFileSync(file, Buffer.concat([l, h, data]));
  return file;
}

describe('safetensors', () => {
  test('round-trips every dtype with values and shapes intact', () => {
    const ts: Record<string, nt.Tensor> = {
      f32: nt.tensor([[1.5, -2], [3, 4.25]]),
      f64: nt.tensor([1e-300, 2], { dtype: 'float64' }),
      f16: nt.tensor([0.5, -65504, 1e-7, 3.140625], { dtype: 'float16' }),
      bf16: nt.tensor([1, -3.5, 1e30], { dtype: 'bfloat16' }),
      i64: nt.tensor([2n ** 40n, -1n]),
      i32: nt.tensor([7, -8], { dtype: 'int32' }),
      i16: nt.tensor([300, -300], { dtype: 'int16' }),
      i8: nt.tensor([-128, 127], { dtype: 'int8' }),
      u8: nt.tensor([0, 255], { dtype: 'uint8' }),
      bool: nt.tensor([true, false, true]),
      scalar: nt.tensor(3),
      empty: nt.zeros([0, 3]),
    };
    saveSafetensors(p('all.safetensors'), ts, { note: 'hi' });
    const { tensors, metadata } = readSafetensors(p('all.safetensors'));
    expect(metadata).toEqual({ note: 'hi' });
    expect(Object.keys(tensors).sort()).toEqual(Object.keys(ts).sort());
    for (const [k, t] of Object.entries(ts)) {
      expect(tensors[k].dtype).toBe(t.dtype);
      expect([...tensors[k].shape]).toEqual([...t.shape]);
      expect(tensors[k].toArray()).toEqual(t.toArray());
    }
  });

  test('writes the documented layout: 8-byte LE length, JSON header, 8-aligned raw LE data', () => {
    saveSafetensors(p('layout.safetensors'), { a: nt.tensor([1, 2], { dtype: 'float32' }), b: nt.tensor([3], { dtype: 'int64' }) });
    const buf = fs.readFileSync(p('layout.safetensors'));
    const n = Number(buf.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    expect(JSON.parse(buf.subarray(8, 8 + n).toString())).toEqual({
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'I64', shape: [1], data_offsets: [8, 16] },
    });
    const data = buf.subarray(8 + n);
    expect([data.readFloatLE(0), data.readFloatLE(4), Number(data.readBigInt64LE(8))]).toEqual([1, 2, 3]);
  });

  test('reads a file written by the reference implementation (hand-assembled bytes)', () => {
    const data = Buffer.alloc(12);
    data.writeFloatLE(1.25, 0); data.writeFloatLE(-2, 4); data.writeInt16LE(0x3c00, 8); data.writeInt16LE(0xc000 - 0x10000, 10);
    const f = forge(p('ref.safetensors'), '{"w":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},"h":{"dtype":"F16","shape":[2],"data_offsets":[8,12]}}', data);
    const t = loadSafetensors(f);
    expect(t.w.toArray()).toEqual([[1.25, -2]]);
    expect(t.h.dtype).toBe('float16');
    expect(t.h.toArray()).toEqual([1, -2]);
  });

  const hostile: [string, () => string, RegExp][] = [
    ['a missing file', () => p('nope.safetensors'), /cannot open .*nope\.safetensors: no such file/],
    ['a file shorter than 8 bytes', () => { fs.writeFileSync(p('short'), 'abc'); return p('short'); }, /short: the file has 3 bytes/],
    ['a huge header length', () => forge(p('huge'), '{}', undefined, 2n ** 62n), /huge: header length \d+ is over the 100000000-byte limit/],
    ['a header past the end', () => forge(p('past'), '{}', undefined, 4096n), /past: header length 4096 runs past the end of the file/],
    ['invalid JSON', () => forge(p('json'), '{"a": '), /json: the header is not valid JSON/],
    ['a non-object header', () => forge(p('arr'), '[1,2]'), /arr: the header is not a JSON object/],
    ['an unknown dtype', () => forge(p('dt'), '{"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}', Buffer.alloc(1)), /dt: tensor 'a' has unknown or unsupported dtype "F8_E4M3"; supported: F64, F32/],
    ['offsets outside the data', () => forge(p('out'), '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', Buffer.alloc(4)), /out: tensor 'a' ends at data byte 8 but the file holds only 4 bytes/],
    ['a size not matching the shape', () => forge(p('size'), '{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', Buffer.alloc(8)), /size: tensor 'a' of shape \[3\] and dtype F32 needs 12 bytes but its data_offsets \[0, 8\] span 8/],
    ['overlapping tensors', () => forge(p('ovl'), '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', Buffer.alloc(8)), /ovl: tensor '(a|b)' .* overlaps another tensor/],
    ['a hole in the data', () => forge(p('hole'), '{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', Buffer.alloc(8)), /hole: data bytes 0\.\.4 belong to no tensor/],
    ['reversed offsets', () => forge(p('rev'), '{"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}', Buffer.alloc(4)), /rev: tensor 'a' has invalid data_offsets/],
    ['a bad shape', () => forge(p('shape'), '{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}}'), /shape: tensor 'a' has an invalid shape \[-1\]/],
  ];
  test.each(hostile)('rejects %s with an error naming the file', (_what, make, re) => {
    expect(() => loadSafetensors(make())).toThrow(re);
  });

  test('rejects a truncated file (the last tensor cut short)', () => {
    saveSafetensors(p('trunc.safetensors'), { a: nt.ones([64]) });
    const buf = fs.readFileSync(p('trunc.safetensors'));
    fs.writeFileSync(p('trunc.safetensors'), buf.subarray(0, buf.length - 10));
    expect(() => loadSafetensors(p('trunc.safetensors'))).toThrow(/trunc\.safetensors: tensor 'a' ends at data byte 256 but the file holds only 246 bytes/);
  });
});

function mlp(): nt.Sequential {
  return new Sequential([
    new layers.Dense(8, { activation: 'relu', inputShape: [4], name: 'hidden', kernelRegularizer: nt.regularizers.l2(1e-3) }),
    new layers.Dropout(0.25, { name: 'drop' }),
    new layers.Dense(3, { activation: 'softmax', name: 'out' }),
  ]);
}

describe('model.save / loadModel', () => {
  test('a loaded MLP predicts identically and keeps names, weights in Keras layout and the compile config', async () => {
    nt.manualSeed(1);
    const model = mlp();
    model.compile({ optimizer: new nt.optimizers.Adam({ learningRate: 0.01 }), loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
    const x = nt.randn([16, 4]);
    const y = nt.randint(0, 3, [16]);
    await model.fit(x, y, { epochs: 2, verbose: 0 });
    await model.save(p('mlp'));
    expect(fs.readdirSync(p('mlp')).sort()).toEqual(['config.json', 'model.safetensors', 'optimizer.safetensors']);
    const cfg = JSON.parse(fs.readFileSync(p('mlp', 'config.json'), 'utf8'));
    expect(cfg.className).toBe('Sequential');
    expect(cfg.config.layers.map((l: { className: string }) => l.className)).toEqual(['Dense', 'Dropout', 'Dense']);
    expect(cfg.config.layers[0].config).toMatchObject({ name: 'hidden', units: 8, activation: 'relu', inputShape: [4], kernelRegularizer: { l2: 1e-3 } });
    expect(cfg.buildConfig).toEqual({ inputShape: [4] });
    expect(cfg.compileConfig).toEqual({ optimizer: { className: 'adam', config: { learningRate: 0.01 } }, loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
    const w = loadSafetensors(p('mlp', 'model.safetensors'));
    expect(Object.keys(w)).toEqual(['hidden/kernel', 'hidden/bias', 'out/kernel', 'out/bias']);
    expect([...w['hidden/kernel'].shape]).toEqual([4, 8]); // Keras layout [in, out]

    const loaded = await nt.loadModel(p('mlp'));
    expect(loaded.layers.map((l) => l.name)).toEqual(['hidden', 'drop', 'out']);
    expect(maxDiff(await loaded.predict(x), await model.predict(x))).toBe(0);
    expect(loaded.getLearningRate()).toBeCloseTo(0.01, 8);
    const ev = await loaded.evaluate(x, y, { verbose: 0 }) as number[];
    expect(ev).toEqual(await model.evaluate(x, y, { verbose: 0 }));
    await loaded.fit(x, y, { epochs: 1, verbose: 0 }); // recompiled: trains
  });

  test('a ConvNet with Input, Conv2D, pooling, Reshape, Activation and Flatten round-trips exactly', async () => {
    nt.manualSeed(2);
    const model = new Sequential([
      layers.Input({ shape: [8, 8, 1] }),
      new layers.Conv2D(4, 3, { activation: 'relu', name: 'conv' }),
      new layers.MaxPooling2D(2),
      new layers.Conv2D(2, [2, 2], { padding: 'same', useBias: false }),
      new layers.AveragePooling2D(1),
      new layers.Flatten(),
      new layers.Reshape([2, 9]),
      new layers.Flatten(),
      new layers.Dense(2),
      new layers.Activation('sigmoid'),
    ]);
    const x = nt.randn([5, 8, 8, 1]);
    const before = await model.predict(x);
    await model.save(p('cnn'));
    const w = loadSafetensors(p('cnn', 'model.safetensors'));
    expect([...w['conv/kernel'].shape]).toEqual([3, 3, 1, 4]); // Keras [kh, kw, in, out]
    const loaded = await nt.loadModel(p('cnn'));
    expect(maxDiff(await loaded.predict(x), before)).toBe(0);
    expect(loaded.summary(false)).toBe(model.summary(false));
  });

  test('every other built-in layer round-trips: configs, weights, running stats, predictions', async () => {
    nt.manualSeed(4);
    const seqModel = (rnn: 'SimpleRNN' | 'LSTM' | 'GRU') => new Sequential([
      new layers.Embedding(20, 6, { inputLength: 7, embeddingsInitializer: 'random_normal' }),
      new layers.Conv1D(5, 3, { padding: 'same', activation: 'relu', kernelInitializer: 'he_normal' }),
      new layers.LayerNormalization({ epsilon: 1e-4 }),
      new layers.Bidirectional(new layers[rnn](4, { returnSequences: true, biasRegularizer: nt.regularizers.l1(0.01) }), { mergeMode: 'sum' }),
      new layers[rnn](3, { returnSequences: true, goBackwards: true, kernelRegularizer: nt.regularizers.l2(0.01) }),
      new layers.GlobalMaxPooling1D(),
      new layers.Dense(2, { activation: 'softmax', activityRegularizer: nt.regularizers.l1(0.1) }),
    ]);
    const imageModel = () => new Sequential([
      new layers.Conv2D(3, 3, { inputShape: [6, 6, 2], kernelInitializer: 'lecun_normal' }),
      new layers.BatchNormalization({ momentum: 0.5 }),
      new layers.GlobalAveragePooling2D({ keepdims: true }),
      new layers.Flatten(),
      new layers.Dense(1),
    ]);
    const cases: [nt.Sequential, nt.Tensor, nt.Tensor, string][] = [
      ...(['SimpleRNN', 'LSTM', 'GRU'] as const).map((r) => [seqModel(r), nt.randint(0, 20, [8, 7]), nt.randint(0, 2, [8]), 'sparse_categorical_crossentropy'] as [nt.Sequential, nt.Tensor, nt.Tensor, string]),
      [imageModel(), nt.randn([8, 6, 6, 2]), nt.randn([8, 1]), 'mse'],
    ];
    for (const [i, [model, x, y, loss]] of cases.entries()) {
      model.compile({ optimizer: 'adam', loss, metrics: loss === 'mse' ? ['mae'] : ['accuracy'] });
      await model.fit(x, y, { epochs: 2, batchSize: 4, verbose: 0 }); // moves BatchNormalization's running stats
      const before = await model.predict(x);
      const dir = p(`layers${i}`);
      await model.save(dir);
      const loaded = await nt.loadModel(dir);
      expect(loaded.summary(false)).toBe(model.summary(false));
      expect(loaded.layers.map((l) => l.getConfig())).toEqual(model.layers.map((l) => l.getConfig()));
      expect(maxDiff(await loaded.predict(x), before)).toBe(0);
      // the loaded model trains with the same penalties: same loss on the same batch
      const [a, b] = [await model.evaluate(x, y, { verbose: 0 }), await loaded.evaluate(x, y, { verbose: 0 })] as number[][];
      expect(b[0]).toBeCloseTo(a[0], 6);
    }
  });

  test('the optimizer state is saved: a loaded model continues training exactly as the original', async () => {
    nt.manualSeed(5);
    const x = nt.randn([64, 4]);
    const y = nt.randint(0, 3, [64]);
    const model = new Sequential([new layers.Dense(8, { inputShape: [4], activation: 'relu' }), new layers.Dense(3, { activation: 'softmax' })]);
    model.compile({ optimizer: new nt.optimizers.Adam({ learningRate: 0.01 }), loss: 'sparse_categorical_crossentropy' });
    await model.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0, shuffle: false });
    await model.save(p('adam'));
    const st = readSafetensors(p('adam', 'optimizer.safetensors'));
    expect(Object.keys(st.tensors).sort()).toEqual(expect.arrayContaining(['state/0/exp_avg', 'state/0/exp_avg_sq', 'state/3/exp_avg']));
    expect(JSON.parse(st.metadata.scalars)['0'].step).toBe(8);
    const loaded = await nt.loadModel(p('adam'));
    const fresh = await nt.loadModel(p('adam'));
    fs.rmSync(p('adam', 'optimizer.safetensors'));
    const noState = await nt.loadModel(p('adam'));
    for (const m of [model, loaded, noState]) await m.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0, shuffle: false });
    const a = model.getWeights();
    loaded.getWeights().forEach((w, i) => expect(maxDiff(w, a[i])).toBe(0));
    // without the moments Adam restarts (bias correction from step 1): the weights differ
    expect(Math.max(...noState.getWeights().map((w, i) => maxDiff(w, a[i])))).toBeGreaterThan(1e-4);
    // includeOptimizer: false leaves no state (and removes an older one)
    await fresh.save(p('adam'), { includeOptimizer: false });
    expect(fs.existsSync(p('adam', 'optimizer.safetensors'))).toBe(false);
    // a corrupt state file is a clear error naming it
    await model.save(p('adam2'));
    fs.writeFileSync(p('adam2', 'optimizer.safetensors'), 'garbage');
    await expect(nt.loadModel(p('adam2'))).rejects.toThrow(/optimizer\.safetensors/);
  });

  test('saveWeights / loadWeights move weights between two models of one architecture', async () => {
    nt.manualSeed(3);
    const a = mlp();
    const b = mlp();
    a.build([4]);
    await a.saveWeights(p('w.safetensors'));
    await b.loadWeights(p('w.safetensors'));
    const x = nt.randn([3, 4]);
    expect(maxDiff(await a.predict(x), await b.predict(x))).toBe(0);
  });

  test('bad input: missing directory or file, unknown layer class, mismatched weights, torn config', async () => {
    await expect(nt.loadModel(p('absent'))).rejects.toThrow(`loadModel: no such directory: ${p('absent')}`);
    fs.mkdirSync(p('half'));
    fs.writeFileSync(p('half', 'config.json'), '{}');
    await expect(nt.loadModel(p('half'))).rejects.toThrow(`loadModel: missing ${p('half', 'model.safetensors')}`);

    nt.manualSeed(4);
    const m = mlp();
    await m.save(p('bad'));
    const cfgFile = p('bad', 'config.json');
    const good = fs.readFileSync(cfgFile, 'utf8');
    fs.writeFileSync(cfgFile, good.replace('"className": "Dropout"', '"className": "SpatialDropout9D"'));
    await expect(nt.loadModel(p('bad'))).rejects.toThrow(/config\.json: layer 1 has unknown class "SpatialDropout9D"; known layer classes: Activation, Add, Average, AveragePooling2D, BatchNormalization, Bidirectional, Concatenate, Conv1D, Conv2D, Dense, .*, RandomFlip, RandomRotation, RandomTranslation, RandomZoom, Rescaling, Reshape, Resizing, Sequential, SimpleRNN, Subtract \(register others/);
    fs.writeFileSync(cfgFile, good.replace('"units": 8', '"units": 5'));
    await expect(nt.loadModel(p('bad'))).rejects.toThrow(/model\.safetensors: weight 'hidden\/kernel' has shape \[4, 8\] but layer 'hidden' \(Dense\) expects \[4, 5\]/);
    const i = good.lastIndexOf('"useBias": true');
    fs.writeFileSync(cfgFile, good.slice(0, i) + '"useBias": false' + good.slice(i + 15));
    await expect(nt.loadModel(p('bad'))).rejects.toThrow(/model\.safetensors: the weights do not match the model 'sequential'; not in the model: out\/bias/);
    // Other names but the same structure: matched by order, as Keras' load_weights.
    fs.writeFileSync(cfgFile, good.replace('"name": "out"', '"name": "head"'));
    expect((await nt.loadModel(p('bad'))).layers[2].name).toBe('head');
    fs.writeFileSync(cfgFile, good.slice(0, 40));
    await expect(nt.loadModel(p('bad'))).rejects.toThrow(/config\.json is not valid JSON/);
    const unbuilt = new Sequential([new layers.Dense(2)]);
    await expect(unbuilt.save(p('unbuilt'))).rejects.toThrow(/not built/);
  });

  test('registerLayer lets another layer class be loaded', async () => {
    class Scale extends layers.Layer {
      constructor(readonly factor: number, opts: { name?: string } = {}) { super(opts); }
      call(x: nt.Tensor): nt.Tensor { return x.mul(this.factor); }
      override nativeStep() { return null; }
      override getConfig() { return { ...super.getConfig(), factor: this.factor }; }
    }
    registerLayer('Scale', (c) => new Scale(c.factor as number, { name: c.name as string }));
    expect(registeredLayers()).toContain('Scale');
    const m = new Sequential([new layers.Dense(2, { inputShape: [3] }), new Scale(3, { name: 'scale' })]);
    m.build();
    await m.save(p('custom'));
    const loaded = await nt.loadModel(p('custom'));
    expect(loaded.layers[1]).toBeInstanceOf(Scale);
    expect((loaded.layers[1] as Scale).factor).toBe(3);
  });
});

/** Runs a TypeScript snippet in a child (tsx), with `nt` and the saving modules imported. */
function childScript(name: string, body: string): string {
  const file = p(`${name}.ts`);
  fs.writeFileSync(file, [
    `import * as nt from ${JSON.stringify(path.join(root, 'lib'))};`,
    `import { BackupAndRestore } from ${JSON.stringify(path.join(root, 'lib/keras/checkpoint_callbacks'))};`,
    'void BackupAndRestore;',
    body,
  ].join('\n'));
  return file;
}

describe('atomic writes', () => {
  test('a process killed mid-save leaves the previous checkpoint loadable', async () => {
    const dir = p('atomic-model');
    // About 16 MB of weights per save, saved over and over.
    const script = childScript('atomic', `
      nt.manualSeed(0);
      const m = new nt.Sequential([new nt.layers.Dense(2048, { inputShape: [2048], name: 'big' }), new nt.layers.Dense(4, { name: 'small' })]);
      m.build();
      (async () => {
        await m.save(${JSON.stringify(dir)});
        console.log('saved');
        for (;;) await m.save(${JSON.stringify(dir)});
      })();
    `);
    const child = spawn(...node(script), { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let err = '';
    child.stderr.on('data', (d) => { err += String(d); });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d) => { if (String(d).includes('saved')) resolve(); });
      child.on('exit', (code) => reject(new Error(`child exited with ${code} before saving: ${err}`)));
    });
    // Kill it while a temp file exists: inside a write, before its rename.
    const deadline = Date.now() + 30_000;
    const temps = () => fs.readdirSync(dir).filter((n) => n.endsWith('.tmp'));
    while (temps().length === 0 && Date.now() < deadline) { /* poll */ }
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    expect(temps().length).toBeGreaterThan(0);
    const m = await nt.loadModel(dir);
    expect(m.countParams()).toBe(2048 * 2048 + 2048 + 2048 * 4 + 4);
    const x = nt.ones([1, 2048]);
    expect(Number.isFinite(Number((await m.predict(x)).sum().item()))).toBe(true);
    await m.save(dir); // the next save clears the dead writer's temp files
    expect(temps()).toEqual([]);
  });
});

describe('ModelCheckpoint', () => {
  test('formats Keras filepath templates', () => {
    expect(formatFilepath('ckpt-{epoch:02d}-{val_loss:.2f}', { epoch: 3, val_loss: 0.12345 })).toBe('ckpt-03-0.12');
    expect(formatFilepath('{epoch}/{loss:.3e}/{acc:>6.1f}/{{x}}', { epoch: 10, loss: 12345.678, acc: 0.5 })).toBe('10/1.235e+04/   0.5/{x}');
    expect(() => formatFilepath('{val_acc:.2f}', { epoch: 1, loss: 1 })).toThrow(/uses '\{val_acc\}', which is not available; available: epoch, loss/);
  });

  test('saves every epoch with 1-based names, or only improvements, or weights only', async () => {
    nt.manualSeed(5);
    const m = mlp();
    m.compile({ optimizer: 'sgd', loss: 'sparse_categorical_crossentropy' });
    const x = nt.randn([20, 4]);
    const y = nt.randint(0, 3, [20]);
    const losses: number[] = [];
    await m.fit(x, y, { epochs: 3, verbose: 0, validationData: [x, y], callbacks: [
      new ModelCheckpoint(p('ck', 'all-{epoch:02d}-{val_loss:.2f}'), {}),
      new ModelCheckpoint(p('ck', 'best.safetensors'), { saveBestOnly: true, saveWeightsOnly: true, monitor: 'val_loss' }),
      new ModelCheckpoint(p('ck', 'never'), { saveBestOnly: true, monitor: 'val_loss', mode: 'max', initialValueThreshold: 1e9 }),
      { onEpochEnd: (_e: number, logs?: Record<string, number>) => { losses.push(logs!.val_loss); } },
    ] });
    const names = fs.readdirSync(p('ck')).sort();
    expect(names).toEqual([...losses.map((l, i) => `all-0${i + 1}-${l.toFixed(2)}`), 'best.safetensors'].sort());
    const last = await nt.loadModel(p('ck', names[2]));
    expect(maxDiff(await last.predict(x), await m.predict(x))).toBe(0);
  });
});

describe('BackupAndRestore', () => {
  const train = (dir: string, killAfter: number) => `
    nt.manualSeed(7);
    const x = nt.randn([64, 6]);
    const y = nt.randint(0, 3, [64]);
    const m = new nt.Sequential([new nt.layers.Dense(16, { activation: 'tanh', inputShape: [6] }), new nt.layers.Dense(3, { activation: 'softmax' })]);
    m.compile({ optimizer: new nt.optimizers.SGD({ learningRate: 0.1 }), loss: 'sparse_categorical_crossentropy' });
    const backup = new BackupAndRestore(${JSON.stringify(dir)});
    const start = backup.resumeEpoch();
    (async () => {
      await m.fit(x, y, { epochs: 5, batchSize: 16, shuffle: false, verbose: 0, initialEpoch: start, callbacks: [backup, {
        onEpochBegin: (e: number) => { console.log('epoch', e + 1); },
        onEpochEnd: (e: number) => { if (e + 1 === ${killAfter}) process.kill(process.pid, 'SIGKILL'); },
      }] });
      const w = m.getWeights().map((t) => Array.from(t.dataSync() as Float32Array));
      console.log('weights', JSON.stringify(w));
    })();
  `;
  const run = (name: string, dir: string, killAfter: number) => spawnSync(...node(childScript(name, train(dir, killAfter))), { cwd: root, encoding: 'utf8', timeout: 120_000 });

  test('a run killed after epoch 2 resumes at epoch 3 and ends with the uninterrupted weights', () => {
    const dir = p('backup');
    const first = run('bk1', dir, 2);
    expect(first.signal).toBe('SIGKILL');
    expect(first.stdout.match(/epoch \d/g)).toEqual(['epoch 1', 'epoch 2']);
    expect(fs.existsSync(path.join(dir, 'backup.safetensors'))).toBe(true);
    const second = run('bk2', dir, 0);
    expect(second.status).toBe(0);
    expect(second.stdout.match(/epoch \d/g)).toEqual(['epoch 3', 'epoch 4', 'epoch 5']);
    expect(fs.existsSync(dir)).toBe(false); // deleted after finishing normally
    const straight = run('bk3', p('backup-straight'), 0);
    expect(straight.stdout.match(/epoch \d/g)).toHaveLength(5);
    const weights = (out: string) => JSON.parse(out.match(/^weights (.*)$/m)![1]) as number[][];
    expect(weights(second.stdout)).toEqual(weights(straight.stdout));
  });

  test('without initialEpoch, fit refuses to redo restored epochs (until fit honours params.initialEpoch)', async () => {
    nt.manualSeed(8);
    const m = mlp();
    m.compile({ optimizer: 'sgd', loss: 'sparse_categorical_crossentropy' });
    const x = nt.randn([8, 4]);
    const y = nt.randint(0, 3, [8]);
    const dir = p('backup-hook');
    await m.fit(x, y, { epochs: 2, verbose: 0, callbacks: [new BackupAndRestore(dir, { deleteCheckpoint: false })] });
    const b = new BackupAndRestore(dir);
    expect(b.resumeEpoch()).toBe(2);
    const h = m.fit(x, y, { epochs: 4, verbose: 0, callbacks: [b] });
    // the params fit handed the callback (read once fit has settled: fit sets them after its checks)
    const hooked = () => (b as unknown as { params: Record<string, unknown> }).params;
    await h.then(() => expect(hooked().initialEpoch).toBe(2), (e: Error) => expect(e.message).toMatch(/started at epoch 1; pass \{ initialEpoch: backup\.resumeEpoch\(\) \}/));
  });
});
