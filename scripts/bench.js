#!/usr/bin/env node
// `npm run bench`: runs every benchmark section (nodetorch, PyTorch and tfjs side by side) and
// writes bench/RESULTS.md. A section is an entry in SECTIONS: the runs it needs and how to render them.
//
//   npm run bench                      every section but the on-demand soak (kept from its last run); rewrites bench/RESULTS.md
//   npm run bench -- fit [train ...]   only these sections (ids: ops, train, fit, augment, fit_augment, serve, tuner,
//                                      jit, onnx, distributed, aten, soak, mixed_precision; also
//                                      --only fit,train): replaces just their part of RESULTS.md,
//                                      keeps the others and the header, and marks each replaced
//                                      section with when and how it was regenerated
//   npm run bench -- --threads N       intra-op threads for nodetorch and PyTorch (default: nodetorch's)
//   npm run bench -- --retries N       runs a section again (up to N more times, default 2) when the 1-minute
//                                      load average was above 1.5 at its start; rows still taken under load are marked
//   npm run bench -- --no-under-load   skips the "under load" runs (each case beside a competing busy process)
//   npm run bench -- --quick           one round per run and shorter timing loops (BENCH_REPS=3, BENCH_TARGET_MS=100):
//                                      checks that sections run and render, not numbers to keep
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn, spawnSync } = require('child_process');

const root = path.resolve(__dirname, '..');
const TSX = path.join(root, 'node_modules', '.bin', 'tsx');
// The nodetorch and tfjs benchmarks run as JavaScript compiled by tsc (tsconfig.bench.json), as a
// service in production would: running TypeScript through tsx adds ~40 MiB of RSS and its own start-up.
const OUT = path.join(root, 'bench', '.out');
const NODE = process.execPath;
const js = (tsFile) => path.join(OUT, tsFile.replace(/\.ts$/, '.js'));

function compileBenchmarks() {
  const r = spawnSync(NODE, [require.resolve('typescript/bin/tsc', { paths: [root] }), '-p', 'tsconfig.bench.json'],
    { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`compiling the benchmarks failed:\n${r.stdout}${r.stderr}`);
}
// Debian's python3-torch lives under the system python; a python3 earlier on PATH may lack torch.
const PYTHON = process.env.BENCH_PYTHON || '/usr/bin/python3';
const RUN_TIMEOUT_MS = 120_000;

// ---- running ----

function lastLine(s) {
  const lines = String(s || '').trim().split('\n');
  return lines[lines.length - 1] || '';
}

/**
 * Runs one benchmark process and parses the JSON line it prints last.
 * Returns { ok: true, data, seconds } or { ok: false, reason, seconds }: one failure is a cell, not a crash.
 */
function runJson(cmd, args, timeoutMs = RUN_TIMEOUT_MS, env = undefined) {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20,
    env: env ? { ...process.env, ...env } : process.env });
  const seconds = (Date.now() - t0) / 1000;
  const fail = (reason) => ({ ok: false, reason, seconds });
  if (r.error) return fail(r.error.code === 'ETIMEDOUT' ? `timed out after ${timeoutMs / 1000} s` : r.error.message);
  const line = String(r.stdout).trim().split('\n').reverse().find((l) => l.startsWith('{'));
  let data = null;
  try {
    data = line ? JSON.parse(line) : null;
  } catch (e) {
    if (r.status === 0) return fail(`bad JSON result: ${e.message}`);
  }
  // A benchmark that knows why it failed prints { error } (a cleaner reason than its stack's last line).
  if (data?.error) return fail(data.error);
  if (r.status !== 0) {
    return fail(`exit ${r.status === null ? r.signal : r.status}: ${lastLine(r.stderr) || lastLine(r.stdout) || 'no output'}`);
  }
  return data ? { ok: true, data, seconds } : fail('printed no JSON result');
}

/**
 * Folds repeated runs of one benchmark into one result: per variant and case, the round with the
 * lowest median. Other jobs on a shared machine only ever add time, so the best round is the
 * closest to the true cost; other fields come from the first successful round.
 */
function bestOf(rounds) {
  const ok = rounds.filter((r) => r.ok);
  if (ok.length === 0) return rounds[0];
  const data = { ...ok[0].data, variants: {} };
  for (const r of ok) {
    for (const [variant, cases] of Object.entries(r.data.variants || {})) {
      const into = (data.variants[variant] ??= {});
      for (const [c, res] of Object.entries(cases)) {
        const cur = into[c];
        if (!cur || (cur.error && !res.error) || (!res.error && res.us < cur.us)) into[c] = res;
      }
    }
  }
  return { ok: true, data, seconds: rounds.reduce((t, r) => t + r.seconds, 0), rounds: ok.length };
}

// ---- environment ----

function cpuModel() {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1].trim();
  } catch {
    // not Linux: fall back to what Node reports
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

function readVersion(pkgJson) {
  try {
    return JSON.parse(fs.readFileSync(path.join(root, 'node_modules', pkgJson), 'utf8')).version;
  } catch {
    return 'not installed';
  }
}

/** Versions and the thread count every run uses, probed once. */
function probe(threadsArg) {
  const nt = runJson(TSX, ['-e',
    "import * as nt from './lib'; process.stdout.write(JSON.stringify({ libtorch: nt.version.libtorch, threads: nt.getNumThreads() }))"]);
  const py = runJson(PYTHON, ['-c', 'import json, torch; print(json.dumps({"torch": torch.__version__}))']);
  return {
    nodetorch: JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version,
    libtorch: nt.ok ? nt.data.libtorch : `n/a (${nt.reason})`,
    torch: py.ok ? py.data.torch : `n/a (${py.reason})`,
    tfjs: readVersion('@tensorflow/tfjs/package.json'),
    tfjsWasm: readVersion('@tensorflow/tfjs-backend-wasm/package.json'),
    // nodetorch's default (the core count) unless --threads says otherwise; PyTorch gets the same.
    threads: threadsArg ?? (nt.ok ? nt.data.threads : os.cpus().length),
  };
}

// ---- formatting ----

function fmtUs(us) {
  if (us >= 100) return us.toFixed(0);
  if (us >= 10) return us.toFixed(1);
  return us.toFixed(2);
}

function fmtBytes(b) {
  if (b >= 1 << 20) return `${(b / (1 << 20)).toFixed(1)} MiB`;
  if (b >= 1 << 10) return `${(b / (1 << 10)).toFixed(1)} KiB`;
  return `${b} B`;
}

/** A result cell and its footnote: a run that failed or a case that threw becomes "n/a". */
function cell(run, variant, c, notes) {
  const note = (reason) => {
    let i = notes.indexOf(reason);
    if (i < 0) i = notes.push(reason) - 1;
    return `n/a [${i + 1}]`;
  };
  if (!run.ok) return { text: note(`${run.label}: ${run.reason}`), us: null };
  const r = run.data.variants?.[variant]?.[c];
  if (!r) return { text: note(`${run.label}: no result for ${c}`), us: null };
  if (r.error) return { text: note(`${run.label} ${c}: ${r.error}`), us: null };
  return { text: fmtUs(r.us), us: r.us };
}

// ---- load ----

/** Above this 1-minute load average at a section's start, the section is run again (--retries). */
const LOAD_LIMIT = 1.5;
const loadNow = () => os.loadavg()[0];
const sleepMs = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Cores' worth of CPU other processes use now, sampled from /proc/stat over 2 s while this harness
 * waits (null where there is no /proc/stat). The 1-minute load average still counts the previous
 * section's own runs for a minute after they end; this sample does not, so a quiet machine is not
 * mistaken for a busy one right after a section.
 */
function othersLoad() {
  const read = () => {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return { idle: f[3] + (f[4] || 0), total: f.reduce((a, b) => a + b, 0) };
  };
  try {
    const a = read();
    sleepMs(2000);
    const b = read();
    return b.total > a.total ? (1 - (b.idle - a.idle) / (b.total - a.total)) * os.cpus().length : 0;
  } catch {
    return null;
  }
}

/** A section's start counts as loaded: 1-minute load above LOAD_LIMIT and others using half a core now. */
function loadedNow() {
  const avg = loadNow();
  if (avg <= LOAD_LIMIT) return { loaded: false, avg, others: null };
  const others = othersLoad();
  return { loaded: others === null || others > 0.5, avg, others };
}

/**
 * Runs fn beside one competing busy process (a Node busy loop: one core's worth of other work, as a
 * neighbour on a shared machine would be), killed after.
 */
function besideBusyProcess(fn) {
  const busy = spawn(NODE, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
  try {
    return fn();
  } finally {
    busy.kill('SIGKILL');
  }
}

/** Every { us } timing of a result, keyed variant/case: what the under-load table compares. */
function timings(result) {
  const out = new Map();
  if (!result?.ok) return out;
  for (const [variant, cases] of Object.entries(result.data.variants || {})) {
    for (const [c, res] of Object.entries(cases || {})) {
      if (res && typeof res.us === 'number') out.set(`${variant} / ${c}`, res.us);
    }
  }
  return out;
}

/**
 * The under-load table: each case's time beside a competing busy process over its quiet time, for
 * every run the section names in underLoad (nodetorch and PyTorch side by side).
 */
function renderUnderLoad(section, quiet, loaded, loadText) {
  const rows = [
    '| run | variant / case | quiet (us) | under load (us) | under load / quiet |',
    '|---|---|---:|---:|---:|',
  ];
  for (const key of Object.keys(loaded)) {
    const q = timings(quiet[key]);
    const l = timings(loaded[key]);
    if (!loaded[key].ok) {
      rows.push(`| ${quiet[key]?.label ?? key} | n/a (${loaded[key].reason}) | | | |`);
      continue;
    }
    for (const [name, us] of l) {
      const base = q.get(name);
      if (base === undefined) continue;
      const r = us / base;
      rows.push(`| ${quiet[key].label} | ${name} | ${fmtUs(base)} | ${fmtUs(us)} | ${r > 2 ? `**${r.toFixed(2)}**` : r.toFixed(2)} |`);
    }
  }
  return [
    '**Under load.** The same runs (one round each) beside one competing busy process (a Node busy loop ' +
      `spawned by the harness and killed after; ${loadText}). Target: under load / quiet <= 2 for nodetorch; ` +
      'above 2 in bold. Quiet times are the best round above.',
    '',
    rows.join('\n'),
  ].join('\n');
}

/** Marks every table data row of a section body taken under load with a dagger after its first cell. */
function markRows(body) {
  const lines = body.split('\n');
  return lines.map((line, i) => {
    if (!line.startsWith('| ') || /^\|[-:| ]+\|$/.test(line)) return line;
    const isHeader = /^\|[-:| ]+\|$/.test(lines[i + 1] ?? '');
    return isHeader ? line : line.replace(/^\| ([^|]*?) \|/, '| $1 † |');
  }).join('\n');
}

// ---- sections ----

const OPS_CASES = [
  ['add', '`add`, two 1-element float32 tensors'],
  ['matmul', '`matmul`, 64x64 float32'],
  ['sum', '`sum` of a 1e6-element float32 tensor'],
  ['autograd', 'autograd: 10-op chain on 16 elements + `backward()`'],
];

function renderOps(runs, env) {
  const notes = [];
  const rows = [
    '| case | nodetorch tidy (us) | nodetorch no-dispose (us) | PyTorch (us) | ratio nodetorch/PyTorch | tfjs-cpu (us) | tfjs-wasm (us) |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  const over = [];
  for (const [c, label] of OPS_CASES) {
    const tidy = cell(runs.nodetorch, 'tidy', c, notes);
    const noDispose = cell(runs.nodetorch, 'no-dispose', c, notes);
    const torch = cell(runs.pytorch, 'eager', c, notes);
    const ratio = tidy.us !== null && torch.us !== null ? tidy.us / torch.us : null;
    if (ratio !== null && ratio > 1) over.push(`${c} (${ratio.toFixed(2)})`);
    const ratioText = ratio === null ? 'n/a' : ratio > 1 ? `**${ratio.toFixed(2)}**` : ratio.toFixed(2);
    rows.push(`| ${label} | ${tidy.text} | ${noDispose.text} | ${torch.text} | ${ratioText} | ` +
      `${cell(runs.tfjsCpu, 'tidy', c, notes).text} | ${cell(runs.tfjsWasm, 'tidy', c, notes).text} |`);
  }

  const out = [rows.join('\n'), ''];
  if (notes.length) out.push(notes.map((n, i) => `[${i + 1}] ${n}`).join('  \n'), '');
  const verdict = over.length === 0
    ? (Object.values(runs).every((r) => r.ok) ? 'Met in this run.' : 'Not fully measured in this run (see n/a).')
    : `Not met in this run: ${over.join(', ')}.`;
  const peak = runs.nodetorch.ok ? runs.nodetorch.data.noDisposePeak : null;
  const peakText = peak
    ? OPS_CASES.filter(([c]) => peak[c]).map(([c]) => `${c} ${peak[c].tensors} tensors / ${fmtBytes(peak[c].bytes)}`).join(', ')
    : 'n/a';
  const wasm = runs.tfjsWasm.ok ? runs.tfjsWasm.data : null;
  const timing = runs.nodetorch.ok ? runs.nodetorch.data.timing : null;
  out.push(
    `**Target:** every ratio nodetorch/PyTorch <= 1.0, i.e. a nodetorch op costs no more than the same op ` +
    `from Python. ${verdict} Ratios above 1.0 are in bold.`,
    '',
    `**Notes.** Each number is the median of ${timing ? `${timing.reps} timed loops of about ${timing.targetMs} ms each` : 'several timed loops'} ` +
    '(after warm-up), in microseconds per op (per forward+backward step for autograd); nodetorch and PyTorch ran ' +
    `${runs.nodetorch.planned} and ${runs.pytorch.planned} alternating rounds and each cell is ` +
    'the best round, since other load on the machine only ever adds time. ' +
    `Both run the same libtorch ops on ${env.threads} intra-op thread(s). ` +
    `*tidy* frees results with one \`nt.tidy()\` per 100 ops (per step for autograd); ` +
    '*no-dispose* leaves every result to the GC finalizer and yields to the event loop every 10k tensors ' +
    `so finalizers can run; live result tensors peaked at: ${peakText}` +
    `${runs.nodetorch.ok ? ` (after a final GC, ${runs.nodetorch.data.leftAfterGc} were left)` : ''}. ` +
    'PyTorch frees results by refcount as the loop drops them; the autograd step sets `x.grad = None` ' +
    '(nodetorch: `x.grad = null`) so no gradient accumulates. ' +
    'tfjs runs the same cases inside `tf.tidy()` (per 100 ops, per `tf.grad` step); its cpu backend is ' +
    `single-threaded JavaScript, and its wasm backend ran with ${wasm ? wasm.threads : '?'} thread(s)` +
    `${wasm && wasm.simd ? ' and SIMD' : ''} (Node has no wasm threads here). ` +
    'Other jobs may share the machine (see the load average above), so single numbers can be noisy; ' +
    'compare ratios across runs. `sum` is the most exposed: it splits across the intra-op threads, and ' +
    'when other processes hold the cores each op waits for a descheduled worker, jumping from ~0.1 ms to ' +
    '~8 ms on either side; such a cell measures the machine, not the binding.',
  );
  return out.join('\n');
}

function renderTrain(runs, env) {
  const notes = [];
  const nodetorch = cell(runs.nodetorch, 'tidy', 'epoch', notes);
  const torch = cell(runs.pytorch, 'eager', 'epoch', notes);
  const seconds = (run, variant) => (run.ok ? run.data.variants?.[variant]?.epoch?.seconds : undefined);
  const sec = (s) => (s === undefined ? 'n/a' : s.toFixed(2));
  const ratio = nodetorch.us !== null && torch.us !== null ? nodetorch.us / torch.us : null;
  const ratioText = ratio === null ? 'n/a' : ratio > 1 ? `**${ratio.toFixed(2)}**` : ratio.toFixed(2);
  const rows = [
    '| case | nodetorch (s/epoch) | PyTorch (s/epoch) | ratio nodetorch/PyTorch | nodetorch (us/step) | PyTorch (us/step) |',
    '|---|---:|---:|---:|---:|---:|',
    `| seed MLP, 60,000 samples, batch 32, Adam | ${sec(seconds(runs.nodetorch, 'tidy'))} | ${sec(seconds(runs.pytorch, 'eager'))} | ` +
      `${ratioText} | ${nodetorch.text} | ${torch.text} |`,
  ];
  const out = [rows.join('\n'), ''];
  if (notes.length) out.push(notes.map((n, i) => `[${i + 1}] ${n}`).join('  \n'), '');
  const verdict = ratio === null ? 'Not measured in this run (see n/a).' : ratio <= 1 ? 'Met in this run.' : `Not met in this run (${ratio.toFixed(2)}).`;
  const same = runs.nodetorch.ok && runs.pytorch.ok && runs.nodetorch.data.checksum === runs.pytorch.data.checksum;
  out.push(
    `**Target:** ratio <= 1.0: the loop written in TypeScript costs no more than the same loop in Python. ${verdict}`,
    '',
    '**Notes.** One epoch of `zeroGrad()`, forward, `F.crossEntropy`, `backward()`, `step()` over batches sliced ' +
    'from one tensor, for nn.Sequential(Flatten, Linear(784, 128), ReLU, Dropout(0.2), Linear(128, 10)) with ' +
    "Adam (lr 1e-3), after 50 warm-up steps; nodetorch wraps each step in `nt.tidy()`. Both draw the data " +
    `from libtorch's generator with seed 0${same ? ' (identical: the checksums agree)' : ''}, and run on ${env.threads} ` +
    `intra-op thread(s). Each side ran ${runs.nodetorch.planned} and ${runs.pytorch.planned} alternating rounds; ` +
    'each cell is the best round. The step itself differs in one place: PyTorch 1.13 runs `torch.optim.Adam` as ' +
    'Python code over per-parameter ops, nodetorch runs libtorch\'s C++ `torch::optim::Adam`; same update, same numbers.',
  );
  return out.join('\n');
}

function renderTuner(runs, env) {
  const run = runs.nodetorch;
  if (!run.ok) return `n/a [1]\n\n[1] ${run.label}: ${run.reason}`;
  const d = run.data;
  const o = d.overhead;
  const ms = (x) => (typeof x === 'number' ? x.toFixed(0) : 'n/a');
  const acc = (x) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(4) : 'n/a');
  const rows = [
    '| case | model.fit alone (ms) | trial in a search (ms) | overhead per trial (ms) | overhead (%) | of which: the best-epoch checkpoint, one `model.save` (ms) |',
    '|---|---:|---:|---:|---:|---:|',
    `| seed MLP (Dense 128), ${(d.samples * 0.8).toLocaleString('en-US')} + ${(d.samples * 0.2).toLocaleString('en-US')} MNIST images, ` +
      `1 epoch, batch ${d.batchSize} | ${ms(o.fitMs)} | ${ms(o.trialMs)} | ${ms(o.overheadMs)} | ${o.overheadPct.toFixed(1)} | ` +
      `${ms(o.checkpointSaveMs)} |`,
    '',
    `| tuner | best val_accuracy after ${d.qualityTrials} trials, median of ${d.seeds} seeds | per seed | epochs trained per search | seconds per search (median) |`,
    '|---|---:|---:|---:|---:|',
  ];
  for (const [kind, q] of Object.entries(d.quality)) {
    const epochs = [...new Set(q.epochs)].join(' / ');
    rows.push(`| ${kind} | ${acc(q.median)} | ${q.best.map(acc).join(', ')} | ${epochs} | ` +
      `${[...q.seconds].sort((a, b) => a - b)[q.seconds.length >> 1].toFixed(1)} |`);
  }
  return [
    rows.join('\n'),
    '',
    '**Target:** none set; a trial should cost little beyond its fit, and the model-based tuners should match or beat random search.',
    '',
    `**Notes.** Overhead: ${o.trials} rounds of a \`RandomSearch\` whose build declares an unused \`hp.Int\` and returns the seed MLP ` +
    '(`Flatten, Dense(128, relu), Dense(10, softmax)`, Adam), `search(x, y, { epochs: 1, validationSplit: 0.2 })`, against ' +
    '`model.fit` of the same model and options: each round times one fit alone and one more trial of the search (`maxTrials` ' +
    'raised by one, so each `search()` call also rewrites oracle.json once more than a long search would), in alternating order; ' +
    'medians, and the overhead is the median of the rounds\' differences, so load from other jobs hits both sides alike. The ' +
    'difference is the build, the checkpoint (the best epoch\'s weights are kept in memory and written once per execution that ' +
    'improves the trial\'s best: `model.save`, with the Adam state when the best epoch is the last, each file atomic with fsync), ' +
    'trial.json and oracle.json (atomic, fsync\'d: 3 writes per trial) and the oracle. Quality: Keras Tuner\'s ' +
    'getting-started space (`units` 32..512 step 32, `learning_rate` 1e-2/1e-3/1e-4) and model on the first ' +
    `${d.samples.toLocaleString('en-US')} MNIST training images (validationSplit 0.2), ${d.qualityTrials} trials each: ` +
    'RandomSearch and BayesianOptimization (its default 6 random initial points, 3 per tuned parameter, then the Gaussian process) train ' +
    `${d.rsBoEpochs} epochs per trial; Hyperband (maxEpochs ${d.hbMaxEpochs}, factor 3) runs 5 trials of 2 epochs, continues the ` +
    'best 2 to epoch 4 from their checkpoints, then 3 trials of 4 epochs. Seeds 0.. set both the tuner and `nt.manualSeed` ' +
    `(weight initialisation). One execution per trial, batch ${d.batchSize}, ${env.threads} intra-op thread(s), one round. ` +
    'No Python column: keras-tuner is not installed on this machine, so there is no Keras Tuner run to compare against.',
  ].join('\n');
}

/**
 * Every benchmark section, in RESULTS.md order. runs(env) names the processes to start, each
 * { label, cmd, args, rounds = 1, timeoutMs = RUN_TIMEOUT_MS, skip } printing one JSON line with
 * { variants: { [variant]: { [case]: { us } | { error } } } } (skip: a reason not to start it, which
 * becomes its n/a footnote); rounds alternate between runs and are folded by bestOf(). render(results,
 * env) turns the results, keyed like runs, into markdown. Later sections (data
 * pipelines, serving) are more entries here. underLoad: { [run key]: extra args } names the runs
 * also run once beside a competing busy process (the "under load" table; extra args may shorten them).
 */
const SECTIONS = [
  {
    id: 'ops',
    title: 'Per-op overhead',
    runs: (env) => ({
      // The ratio compares these two, so they alternate over 3 rounds; tfjs is context, 1 round.
      // --expose-gc lets ops.ts clear one no-dispose case's garbage before the next.
      nodetorch: { label: 'nodetorch', cmd: NODE, args: ['--expose-gc', js('bench/ops.ts'), '--threads', String(env.threads)], rounds: 3 },
      pytorch: { label: 'PyTorch', cmd: PYTHON, args: ['bench/ops.py', '--threads', String(env.threads)], rounds: 3 },
      tfjsCpu: { label: 'tfjs-cpu', cmd: NODE, args: [js('bench/ops_tfjs.ts'), '--backend', 'cpu'] },
      tfjsWasm: { label: 'tfjs-wasm', cmd: NODE, args: [js('bench/ops_tfjs.ts'), '--backend', 'wasm', '--threads', String(env.threads)] },
    }),
    underLoad: { nodetorch: [], pytorch: [] },
    render: renderOps,
  },
  {
    id: 'train',
    title: 'Training loop',
    runs: (env) => ({
      nodetorch: { label: 'nodetorch', cmd: NODE, args: [js('bench/train.ts'), '--threads', String(env.threads)], rounds: 3 },
      pytorch: { label: 'PyTorch', cmd: PYTHON, args: ['bench/train.py', '--threads', String(env.threads)], rounds: 3 },
    }),
    underLoad: { nodetorch: [], pytorch: [] },
    render: renderTrain,
  },
  {
    id: 'fit',
    title: 'Keras fit',
    runs: fitRuns,
    // the CNN, LSTM and GRU time fewer batches under load (their epochs are extrapolated from the batches timed)
    underLoad: { 'mlp.nodetorch': [], 'mlp.pytorch': [], 'cnn.nodetorch': ['--steps', '150'], 'cnn.pytorch': ['--steps', '150'],
      'lstm.nodetorch': ['--steps', '40'], 'lstm.pytorch': ['--steps', '40'], 'gru.nodetorch': ['--steps', '40'], 'gru.pytorch': ['--steps', '40'] },
    render: renderFit,
  },
  {
    id: 'augment',
    title: 'Image pipeline',
    runs: (env) => ({
      nodetorch: { label: 'nodetorch', cmd: NODE, args: [js('bench/augment.ts'), '--threads', String(env.threads)], rounds: 2 },
      torchvision: { label: 'torchvision', cmd: PYTHON, args: ['bench/augment.py', '--threads', String(env.threads)], rounds: 2 },
    }),
    underLoad: { nodetorch: [], torchvision: [] },
    render: renderAugment,
  },
  {
    id: 'fit_augment',
    title: 'Augmentation in fit',
    runs: (env) => ({
      nodetorch: { label: 'nodetorch', cmd: NODE, args: [js('bench/fit_augment.ts'), '--threads', String(env.threads)], rounds: 1 },
    }),
    render: renderFitAugment,
  },
  {
    id: 'serve',
    title: 'Inference service',
    // Each run starts its server in a child process and loads it from this process with autocannon.
    // nodetorch serves with up to the core count per forward pass, predict choosing 1 where that is
    // faster (examples/serve's default); FastAPI gets the core count as the brief for the baseline
    // says, and one thread as context.
    runs: (env) => ({
      batching: { label: 'nodetorch, dynamic batching', cmd: NODE, args: [js('bench/serve.ts'), '--server', 'nodetorch', '--threads', String(env.threads)], rounds: 2, timeoutMs: 180_000 },
      nobatch: { label: 'nodetorch, no batching', cmd: NODE, args: [js('bench/serve.ts'), '--server', 'nodetorch-nobatch', '--threads', String(env.threads)], rounds: 2, timeoutMs: 180_000 },
      fastapi: { label: `FastAPI + uvicorn, ${env.threads} thread(s)`, cmd: NODE, args: [js('bench/serve.ts'), '--server', 'fastapi', '--threads', String(env.threads)], rounds: 2, timeoutMs: 180_000 },
      fastapi1: { label: 'FastAPI + uvicorn, 1 thread', cmd: NODE, args: [js('bench/serve.ts'), '--server', 'fastapi', '--threads', '1'], rounds: 2, timeoutMs: 180_000,
        skip: env.threads === 1 ? 'the same as the row above (1 thread)' : undefined },
    }),
    underLoad: { batching: [], fastapi: [] },
    render: renderServe,
  },
  {
    id: 'tuner',
    title: 'Hyperparameter search',
    runs: (env) => ({
      // 3 seeds x 3 tuners x 10 trials on an MNIST subset: a few minutes on 2 cores.
      nodetorch: { label: 'nodetorch', cmd: NODE, args: [js('bench/tuner.ts'), '--threads', String(env.threads)], rounds: 1, timeoutMs: 900_000 },
    }),
    render: renderTuner,
  },
  {
    id: 'jit',
    title: 'TorchScript forward',
    // Also on one thread: small forwards on a busy 2-core machine can spend more time waiting for a
    // descheduled OpenMP thread than computing, which a single thread never does.
    runs: (env) => ({
      nodetorch: { label: 'nodetorch', cmd: NODE, args: [js('bench/jit.ts'), '--threads', String(env.threads)], rounds: 3 },
      pytorch: { label: 'PyTorch', cmd: PYTHON, args: ['bench/jit.py', '--threads', String(env.threads)], rounds: 3 },
      ...(env.threads > 1 ? {
        nodetorch1: { label: 'nodetorch, 1 thread', cmd: NODE, args: [js('bench/jit.ts'), '--threads', '1'], rounds: 2 },
        pytorch1: { label: 'PyTorch, 1 thread', cmd: PYTHON, args: ['bench/jit.py', '--threads', '1'], rounds: 2 },
      } : {}),
    }),
    underLoad: { nodetorch: [], pytorch: [] },
    render: renderJit,
  },
  // export and observability (issue 17): ONNX export time, and the exported seed MLP served by onnxruntime-node
  {
    id: 'onnx',
    title: 'ONNX export and onnxruntime serving',
    runs: (env) => ({
      export: { label: 'model.export (ONNX)', cmd: NODE, args: [js('bench/onnx_export.ts'), '--threads', String(env.threads)], rounds: 2 },
      nodetorch: { label: 'nodetorch (examples/serve), dynamic batching', cmd: NODE, args: [js('bench/serve.ts'), '--server', 'nodetorch', '--threads', '1'], rounds: 2, timeoutMs: 180_000 },
      onnxruntime: { label: 'onnxruntime-node, dynamic batching', cmd: NODE, args: [js('bench/serve.ts'), '--server', 'onnxruntime', '--threads', '1'], rounds: 2, timeoutMs: 180_000 },
      onnxruntimeNobatch: { label: 'onnxruntime-node, no batching', cmd: NODE, args: [js('bench/serve.ts'), '--server', 'onnxruntime-nobatch', '--threads', '1'], rounds: 2, timeoutMs: 180_000 },
    }),
    render: renderOnnx,
  },
  // distributed: Gloo allReduce and DDP steps, 2 ranks of each side on this machine
  {
    id: 'distributed',
    title: 'Distributed data parallel',
    runs: () => ({
      nodetorch: { label: 'nodetorch', cmd: NODE, args: [js('bench/distributed.ts')], rounds: 5, timeoutMs: 600_000 },
      pytorch: { label: 'PyTorch', cmd: PYTHON, args: ['bench/distributed.py'], rounds: 5, timeoutMs: 600_000 },
    }),
    render: renderDistributed,
  },
  // aten: the generic ATen caller against direct bindings and PyTorch (bench/aten.ts, bench/aten.py)
  {
    id: 'aten',
    title: 'Generic ATen caller',
    runs: (env) => ({
      nodetorch: { label: 'nodetorch', cmd: NODE, args: [js('bench/aten.ts'), '--threads', String(env.threads)], rounds: 3 },
      pytorch: { label: 'PyTorch', cmd: PYTHON, args: ['bench/aten.py', '--threads', String(env.threads)], rounds: 3 },
    }),
    underLoad: { nodetorch: [], pytorch: [] },
    render: renderAten,
  },
  // reliability (issue 19): the serve example under valid and malformed requests, then a fit/save/load loop
  {
    id: 'soak',
    title: 'Soak',
    onDemand: true, // 12 minutes: `npm run bench -- soak`; a full run keeps its last text
    runs: (env) => ({
      nodetorch: { label: 'nodetorch', cmd: NODE, args: ['--expose-gc', js('bench/soak.ts'), '--threads', String(env.threads),
        ...(process.env.SOAK_MINUTES ? ['--minutes', process.env.SOAK_MINUTES, '--loop-minutes', process.env.SOAK_MINUTES] : [])],
      rounds: 1, timeoutMs: 20 * 60_000 },
    }),
    render: renderSoak,
  },
  // mixed precision (issue 17): seed MLP and CNN epoch time, float32 vs mixed_bfloat16 on CPU
  {
    id: 'mixed_precision',
    title: 'Mixed precision (bfloat16 on CPU)',
    runs: (env) => ({
      nodetorch: { label: 'nodetorch', cmd: NODE, args: [js('bench/mixed_precision.ts'), '--threads', String(env.threads)], rounds: 1, timeoutMs: 600_000 },
    }),
    render: renderMixedPrecision,
  },
];

function renderMixedPrecision(runs) {
  const r = runs.nodetorch;
  if (!r.ok) return `Not measured: ${r.reason}\n`;
  const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const out = ['| model | samples/epoch | float32 epoch (ms) | mixed_bfloat16 epoch (ms) | ratio bf16/float32 |', '|---|---:|---:|---:|---:|'];
  for (const [id, label] of [['mlp', 'seed MLP'], ['cnn', 'seed CNN']]) {
    const v = r.data.variants?.[id];
    if (!v) {
      out.push(`| ${label} | | n/a | n/a | n/a |`);
      continue;
    }
    const f = med(v.float32.ms), b = med(v.mixed_bfloat16.ms);
    out.push(`| ${label} | ${v.float32.samples} | ${f.toFixed(0)} | ${b.toFixed(0)} | ${(b / f).toFixed(2)} |`);
  }
  out.push('', `**Notes.** One \`fit\` epoch (batch 32, Adam) per policy, medians of rounds run alternately in one process ` +
    '(bench/mixed_precision.ts); `mixed_bfloat16` runs each layer under libtorch\'s CPU autocast with float32 weights. ' +
    `Threads: ${r.data.threads}. Load average (1, 5, 15 min) at the end: ${r.data.loadAverage.map((l) => l.toFixed(2)).join(', ')}. ` +
    'bfloat16 is faster only on CPUs with native bfloat16 instructions (AVX512-BF16/AMX); elsewhere it is emulated.', '');
  return out.join('\n');
}

function renderSoak(runs) {
  const r = runs.nodetorch;
  if (!r.ok) return `Not measured: ${r.reason}\n`;
  const out = [];
  for (const ph of r.data.phases) {
    const rss = ph.rssMb.map((s) => s.rss);
    out.push(`**${ph.name}**, ${ph.seconds} s: RSS ${rss[0]} MiB at the start, ${Math.max(...rss)} MiB at most, ` +
      `${rss[rss.length - 1]} MiB at the end (samples: ${ph.rssMb.map((s) => `${s.t}s ${s.rss}`).join(', ')}).`, '',
    '| request or step: answer | count |', '|---|---:|',
    ...Object.entries(ph.counts).sort().map(([k, v]) => `| ${k} | ${v} |`), '');
  }
  out.push(`Load average while it ran: ${r.data.loadavg.map((l) => l.toFixed(2)).join(' ')}. \`SOAK_MINUTES=1 npm run bench -- soak\` for a short run.`, '');
  return out.join('\n');
}

// The seed models of the Keras fit section, in table order: one row each. bench/common.ts
// FIT_MODELS has each one's epoch size and the batches fit.ts/fit.py (steps) and fit_tfjs.ts
// (tfjsSteps) time; target is the largest acceptable nodetorch/PyTorch epoch-time ratio.
const FIT_MODELS = [
  {
    id: 'mlp', target: 0.6, rounds: 3,
    label: 'seed MLP, 60,000 MNIST-shaped samples',
    notes: 'MLP: nodetorch `Sequential([Flatten, Dense(128, relu), Dense(10, softmax)])`, sparse categorical CE; ' +
      'PyTorch nn.Sequential(Flatten, Linear(784, 128), ReLU, Linear(128, 10)) and `F.cross_entropy` on the logits.',
  },
  {
    id: 'cnn', target: 0.9, rounds: 3, timeoutMs: 180_000,
    label: 'seed CNN, 60,000 MNIST-shaped samples',
    notes: 'CNN: nodetorch `Sequential([Conv2D(32, 3x3, relu), MaxPooling2D(2), Flatten, Dense(64, relu), ' +
      'Dense(10, softmax)])` on channels-last [n, 28, 28, 1] images as Keras feeds them (Conv2D and MaxPooling2D ' +
      'hand libtorch an NCHW view of the channels-last memory, so its channels-last conv and pooling kernels run); PyTorch nn.Sequential(Conv2d(1, 32, 3), ReLU, ' +
      'MaxPool2d(2), Flatten, Linear(5408, 64), ReLU, Linear(64, 10)) on NCHW [n, 1, 28, 28], its natural layout ' +
      '(with one channel the same memory and numbers; only the order of the flattened features differs).',
  },
  {
    id: 'lstm', target: 0.95, rounds: 2, timeoutMs: 240_000,
    label: 'LSTM, 25,000 IMDB-shaped sequences of 200',
    notes: 'LSTM: nodetorch `Sequential([Embedding(10000, 128), LSTM(128), Dense(1, sigmoid)])`, binary CE, on ' +
      'int64 word indices below 10,000 and 0/1 labels; PyTorch Embedding(10000, 128), nn.LSTM(128, 128, batch_first) ' +
      'with its second bias (`bias_hh`) zeroed and frozen as nodetorch\'s Keras LSTM keeps it (Keras has one bias), ' +
      'the last step into Linear(128, 1), and `binary_cross_entropy_with_logits` (Keras\' sigmoid + binary CE, fused).',
    // Measured, not guessed: see the footnote text. Running it would take the whole section's budget.
    skip: {
      tfjsCpu: 'not run: the cpu backend computes Embedding\'s gradient (UnsortedSegmentSum) as one masked ' +
        'multiply-and-sum over the batch\'s 6,400x128 embeddings per vocabulary row, 10,000 rows per batch (~8e9 ' +
        'multiply-adds in JavaScript); two batches did not finish in 15 minutes on this 2-core machine (under load)',
    },
  },
  {
    id: 'gru', target: 0.95, rounds: 2, timeoutMs: 240_000,
    label: 'GRU, 25,000 IMDB-shaped sequences of 200',
    notes: 'GRU: the LSTM row with `GRU(128)` (Keras\' resetAfter, libtorch\'s formula and two biases); PyTorch ' +
      'nn.GRU(128, 128, batch_first). One-layer LSTM and GRU train as one autograd node each in nodetorch (native/rnn.cc), ' +
      'libtorch\'s own at::lstm/at::gru record every gate op of every step.',
    skip: {
      tfjsCpu: 'not run: Embedding\'s gradient in the cpu backend, as in the LSTM row',
      tfjsWasm: 'not run: the LSTM row gives tfjs\' recurrent speed; left out to keep the section\'s time',
    },
  },
];

// What nodetorch's addon sets with mallopt at load (native/threads.cc ConfigureAllocator), as glibc's
// environment variables: the "PyTorch, same allocator settings" column runs Python with these.
const SAME_MALLOC = { MALLOC_MMAP_THRESHOLD_: String(32 << 20), MALLOC_TRIM_THRESHOLD_: String(128 << 20) };

// native/model.cc tunes the thread count only in fits planned for at least this many batches
// (4 x ThreadTuner's 5 warm-up + 2 x (3 settling + 10 timed) batches, native/threads.h).
const TUNE_MIN_BATCHES = 124;

function fitRuns(env) {
  const runs = {};
  for (const m of FIT_MODELS) {
    const own = { rounds: m.rounds, timeoutMs: m.timeoutMs };
    runs[`${m.id}.nodetorch`] = { label: `nodetorch ${m.id}`, cmd: NODE, args: [js('bench/fit.ts'), '--model', m.id, '--threads', String(env.threads)], ...own };
    runs[`${m.id}.pytorch`] = { label: `PyTorch ${m.id}`, cmd: PYTHON, args: ['bench/fit.py', '--model', m.id, '--threads', String(env.threads)], ...own };
    // the same Python with glibc keeping freed blocks as nodetorch's addon does (native/threads.cc)
    runs[`${m.id}.pytorchAlloc`] = { ...runs[`${m.id}.pytorch`], label: `PyTorch ${m.id}, nodetorch's malloc settings`, env: SAME_MALLOC };
    // tfjs is context, not the ratio: one round each.
    for (const [key, backend] of [['tfjsCpu', 'cpu'], ['tfjsWasm', 'wasm']]) {
      runs[`${m.id}.${key}`] = { label: `tfjs-${backend} ${m.id}`, cmd: NODE, args: [js('bench/fit_tfjs.ts'), '--model', m.id, '--backend', backend],
        skip: m.skip?.[key] };
    }
  }
  // the seed MLP as a Sequential and as the same Functional graph, alternating in one process (issue 14)
  runs['mlp.functional'] = { label: 'nodetorch mlp, Sequential and Functional', cmd: NODE,
    args: [js('bench/fit.ts'), '--compare', 'functional', '--threads', String(env.threads)] };
  return runs;
}

// The Sequential/Functional comparison under the fit table: one line, target within 5%.
function renderFunctionalCompare(run) {
  if (!run.ok) return `**Sequential and Functional:** not measured (${run.reason}).`;
  const d = run.data;
  const [seq, fun] = [d.variants.sequential.epoch.seconds, d.variants.functional.epoch.seconds];
  const r = d.functionalOverSequential;
  return `**Sequential and Functional:** the seed MLP built as \`Sequential([Flatten, Dense, Dense])\` and as the same ` +
    `graph with \`nt.Input\` and \`new nt.Model({ inputs, outputs })\`, ${d.samples} samples, best of ${d.rounds} alternating ` +
    `epochs each in one process: ${seq.toFixed(2)} s and ${fun.toFixed(2)} s an epoch, ratio Functional/Sequential ` +
    `${Math.abs(r - 1) > 0.05 ? `**${r.toFixed(3)}**` : r.toFixed(3)} (target: within 5%, ${Math.abs(r - 1) <= 0.05 ? 'met' : 'not met'}; ` +
    'a chain of built-in layers runs the same native epoch either way).';
}

function renderFit(runs, env) {
  const notes = [];
  const rows = [
    '| case | nodetorch (s/epoch) | PyTorch (s/epoch) | ratio nodetorch/PyTorch (target) | nodetorch / PyTorch (us/step) | ' +
      'PyTorch, same allocator settings (s/epoch) | ratio nodetorch/it | ' +
      'tfjs-cpu (s/epoch) | tfjs-wasm (s/epoch) | peak RSS nodetorch / PyTorch (MiB) | event-loop lag, max (ms) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const verdicts = [];
  const timed = [];
  const tuned = [];
  const untuned = [];
  for (const m of FIT_MODELS) {
    const run = (key) => runs[`${m.id}.${key}`];
    const res = (key, variant) => (run(key).ok ? run(key).data.variants?.[variant]?.epoch : undefined);
    const ours = cell(run('nodetorch'), 'native', 'epoch', notes);
    const torch = cell(run('pytorch'), 'eager', 'epoch', notes);
    const torchAlloc = cell(run('pytorchAlloc'), 'eager', 'epoch', notes);
    const cpu = cell(run('tfjsCpu'), 'cpu', 'epoch', notes);
    const wasm = cell(run('tfjsWasm'), 'wasm', 'epoch', notes);
    // s/epoch: us/step times the epoch's batches (a measured whole epoch when all of them were timed)
    const sec = (c, key, variant) => (c.us === null || !res(key, variant) ? c.text : ((c.us * res(key, variant).epochSteps) / 1e6).toFixed(2));
    const field = (key, f, d = 0) => (run(key).ok && typeof run(key).data[f] === 'number' ? run(key).data[f].toFixed(d) : 'n/a');
    const ratio = ours.us !== null && torch.us !== null ? ours.us / torch.us : null;
    const ratioText = ratio === null ? 'n/a' : `${ratio > m.target ? `**${ratio.toFixed(2)}**` : ratio.toFixed(2)} (${m.target})`;
    const ratioAlloc = ours.us !== null && torchAlloc.us !== null ? (ours.us / torchAlloc.us).toFixed(2) : 'n/a';
    rows.push(`| ${m.label}, batch 32, Adam, accuracy | ${sec(ours, 'nodetorch', 'native')} | ${sec(torch, 'pytorch', 'eager')} | ` +
      `${ratioText} | ${ours.us === null ? 'n/a' : fmtUs(ours.us)} / ${torch.us === null ? 'n/a' : fmtUs(torch.us)} | ` +
      `${sec(torchAlloc, 'pytorchAlloc', 'eager')} | ${ratioAlloc} | ` +
      `${sec(cpu, 'tfjsCpu', 'cpu')} | ${sec(wasm, 'tfjsWasm', 'wasm')} | ${field('nodetorch', 'peakRssMiB')} / ${field('pytorch', 'peakRssMiB')} | ` +
      `${field('nodetorch', 'maxLagMs', 1)} |`);
    verdicts.push(ratio === null ? `${m.id} not measured` : `${m.id} ${ratio <= m.target ? 'met' : 'not met'} (${ratio.toFixed(2)})`);

    // What was timed, from the runs themselves (the defaults in bench/common.ts, or --steps).
    const e = res('nodetorch', 'native') ?? res('pytorch', 'eager');
    const warmup = run('nodetorch').ok ? run('nodetorch').data.warmup : run('pytorch').ok ? run('pytorch').data.warmup : null;
    let what = `${m.id}: not measured`;
    if (e) {
      what = e.steps >= e.epochSteps
        ? `${m.id}: one whole epoch (${e.epochSteps} batches) after a ${warmup}-batch warm-up`
        : `${m.id}: the first ${e.steps} of the epoch's ${e.epochSteps} batches after a ${warmup}-batch warm-up, s/epoch = us/step x ${e.epochSteps}`;
    }
    const tf = [['cpu', 'tfjsCpu'], ['wasm', 'tfjsWasm']].filter(([v, k]) => res(k, v))
      .map(([v, k]) => `${res(k, v).steps} batches on ${v} after ${run(k).data.warmup} warm-up`);
    timed.push(`${what}${tf.length ? ` (tfjs: ${tf.join(', ')})` : ''}`);
    if (e && e.epochSteps >= TUNE_MIN_BATCHES) (e.steps >= TUNE_MIN_BATCHES ? tuned : untuned).push(`${m.id} (${e.steps})`);
  }
  const out = [rows.join('\n'), ''];
  if (notes.length) out.push(notes.map((n, i) => `[${i + 1}] ${n}`).join('  \n'), '');
  out.push(renderFunctionalCompare(runs['mlp.functional']), '');
  const rounds = FIT_MODELS.map((m) => `${m.id} ${runs[`${m.id}.nodetorch`].planned}`).join(', ');
  out.push(
    `**Target:** nodetorch <= ${FIT_MODELS.map((m) => `${m.target}x (${m.id})`).join(', ')} Python's epoch time; ` +
    `peak RSS <= Python's; event-loop lag < 50 ms. Ratio: ${verdicts.join(', ')}.`,
    '',
    '**Notes.** nodetorch: `compile({ optimizer: \'adam\', loss, metrics: [\'accuracy\'] })` and `fit` (shuffled, batch 32) ' +
    'in the native loop on a worker thread; the lag column is the worst delay of a 10 ms timer during the timed fit. ' +
    'PyTorch: the same model and a Keras-like loop in Python (fresh shuffle, Adam with epsilon 1e-7, per-batch loss and ' +
    'accuracy). Allocator: nodetorch\'s addon keeps freed blocks for reuse (glibc `mallopt`: mmap threshold 32 MiB, ' +
    'trim threshold 128 MiB; `NODETORCH_MALLOC=default` turns it off), because with glibc\'s defaults every freed ' +
    'block over 128 KiB goes back to the kernel and each step page-faults its activations in again. The PyTorch ' +
    'column is what a Python user gets (glibc\'s defaults); *PyTorch, same allocator settings* runs the same Python ' +
    'with `MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=134217728`, the like-for-like comparison of the ' +
    'training code itself. ' + FIT_MODELS.map((m) => m.notes).join(' ') + ' Both sides draw the data from libtorch\'s generator with seed 0. ' +
    `Timed: ${timed.join('; ')}. A timed part of an epoch is its first batches after a fresh shuffle of all samples ` +
    '(`stepsPerEpoch` in nodetorch). ' +
    (env.threads > 1
      ? 'The native loop picks one or all intra-op threads by timing both, in blocks on batches 5-30 (13 on all, then 13 on one; and again ' +
        'every 30 s) of fits of at least ' +
        `${TUNE_MIN_BATCHES} batches, as every whole epoch here is` +
        `${tuned.length ? `; the timed batches of ${tuned.join(', ')} include that choice` : ''}` +
        `${untuned.length ? `; those of ${untuned.join(', ')} ran on all threads throughout` : ''}. `
      : '') +
    'tfjs: the same `tf.sequential` and `model.fit` on as many samples as it timed batches, scaled to ' +
    'the epoch\'s batches (its cpu backend is single-threaded JavaScript). ' +
    `${env.threads} intra-op thread(s) for nodetorch and PyTorch; best of alternating rounds (${rounds} each side), tfjs one round.`,
  );
  return out.join('\n');
}

function renderAugment(runs, env) {
  const notes = [];
  const rate = (c) => (c.us === null ? null : 1e6 / c.us);
  const fmt = (r) => (r === null ? 'n/a' : r.toFixed(0));
  const ours = cell(runs.nodetorch, 'flow', 'epoch', notes);
  const loop = cell(runs.torchvision, 'loop', 'epoch', notes);
  const workers = cell(runs.torchvision, 'workers', 'epoch', notes);
  const best = [rate(loop), rate(workers)].filter((r) => r !== null);
  const base = best.length ? Math.max(...best) : null;
  const ratio = rate(ours) !== null && base !== null ? rate(ours) / base : null;
  const ratioText = ratio === null ? 'n/a' : ratio < 1 ? `**${ratio.toFixed(2)}**` : ratio.toFixed(2);
  const rows = [
    '| case | nodetorch (images/s) | torchvision, one process (images/s) | torchvision, DataLoader workers (images/s) | ratio nodetorch/best torchvision |',
    '|---|---:|---:|---:|---:|',
    `| 2,000 JPEGs 150x150: decode, resize, seed augmentation, batch 32 | ${fmt(rate(ours))} | ${fmt(rate(loop))} | ` +
      `${fmt(rate(workers))} | ${ratioText} |`,
  ];
  const out = [rows.join('\n'), ''];
  if (notes.length) out.push(notes.map((n, i) => `[${i + 1}] ${n}`).join('  \n'), '');
  const verdict = ratio === null ? 'Not measured in this run (see n/a).' : ratio >= 1 ? 'Met in this run.' : `Not met in this run (${ratio.toFixed(2)}).`;
  out.push(
    `**Target:** ratio >= 1.0. ${verdict}`,
    '',
    '**Notes.** nodetorch: `ImageDataGenerator({ rotationRange: 40, widthShiftRange: 0.2, heightShiftRange: 0.2, ' +
    "shearRange: 0.2, zoomRange: 0.2, horizontalFlip: true, fillMode: 'nearest', rescale: 1 / 255 }).flowFromDirectory()` " +
    '(every JPEG is decoded, and resized where needed, by libjpeg-turbo in native code in a libuv thread; one native ' +
    'affine resampling per batch reads the uint8 pixels with the rescale folded in). torchvision: PIL decode, `Resize`, ' +
    '`RandomAffine(40, translate 0.2, scale 0.8..1.2, shear 0.2)` (constant fill: torchvision has no nearest fill), ' +
    '`RandomHorizontalFlip`, `ToTensor`, through a DataLoader without and with worker processes. One epoch after ' +
    `a 256-image warm-up; ${env.threads} intra-op thread(s); best of ${runs.nodetorch.planned} rounds each.`,
  );
  return out.join('\n');
}

function renderFitAugment(runs, env) {
  const notes = [];
  const [plain, dataset, augmented] = ['plain', 'dataset', 'augmented'].map((v) => cell(runs.nodetorch, v, 'epoch', notes));
  const epoch = (v) => (runs.nodetorch.ok ? runs.nodetorch.data.variants[v]?.epoch : undefined);
  const sec = (c, v) => (c.us === null ? null : epoch(v)?.seconds ?? null);
  const busy = (v) => epoch(v)?.cpuBusy;
  const ratio = plain.us !== null && augmented.us !== null ? augmented.us / plain.us : null;
  const fmt = (x, d = 2) => (x === null || x === undefined ? 'n/a' : x.toFixed(d));
  const rows = [
    '| case | plain fit (s/epoch) | Dataset, no augmentation (s/epoch) | augmenting flow (s/epoch) | ratio augmented/plain | CPU busy, plain / augmented (cores) |',
    '|---|---:|---:|---:|---:|---:|',
    `| seed CNN, 6,400 MNIST-shaped samples, batch 32 | ${fmt(sec(plain, 'plain'))} | ${fmt(sec(dataset, 'dataset'))} | ${fmt(sec(augmented, 'augmented'))} | ` +
      `${ratio !== null && ratio > 1.3 ? `**${fmt(ratio)}**` : fmt(ratio)} | ${fmt(busy('plain'))} / ${fmt(busy('augmented'))} |`,
  ];
  const out = [rows.join('\n'), ''];
  if (notes.length) out.push(notes.map((n, i) => `[${i + 1}] ${n}`).join('  \n'), '');
  const verdict = ratio === null ? 'Not measured in this run (see n/a).' : ratio <= 1.3 ? 'Met in this run.' : `Not met in this run (${fmt(ratio)}).`;
  out.push(
    `**Target:** ratio <= 1.3 (augmentation keeps the CPU busy rather than starving the model). ${verdict}`,
    '',
    '**Notes.** One epoch of the seed CNN (Conv2D(32, 3, relu), MaxPooling2D, Flatten, Dense(64, relu), Dense(10, softmax), adam) ' +
    'three ways: `fit(x, y)` (the native epoch), the same batches from a `data.Dataset` (one native call per batch), and ' +
    '`ImageDataGenerator.flow(x, y)` with the seed augmentation (rotation 40, shifts 0.2, shear 0.2, zoom 0.2, flip, ' +
    `nearest fill, rescale). Each variant's faster of 2 epochs after a warm-up; ${env.threads} intra-op thread(s).`,
  );
  return out.join('\n');
}

function renderServe(runs) {
  const notes = [];
  const note = (reason) => {
    let i = notes.indexOf(reason);
    if (i < 0) i = notes.push(reason) - 1;
    return `n/a [${i + 1}]`;
  };
  const order = [['batching', 'nodetorch'], ['nobatch', 'nodetorch-nobatch'], ['fastapi', 'fastapi'], ['fastapi1', 'fastapi']];
  const first = Object.values(runs).find((r) => r.ok)?.data;
  const levels = first?.concurrency ?? [1, 16, 64];
  const res = (key, variant, c) => (runs[key].ok ? runs[key].data.variants?.[variant]?.[`c${c}`] : undefined);
  const fmt = (x, d) => (x === null || x === undefined || Number.isNaN(x) ? 'n/a' : x.toFixed(d));
  const rows = [
    '| server | concurrency | requests/s | p50 latency (ms) | p99 latency (ms) | mean batch | server CPU (cores) |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const [key, variant] of order) {
    const run = runs[key];
    for (const c of levels) {
      const r = res(key, variant, c);
      if (!r) {
        const why = run.ok ? `${run.label}: no result at concurrency ${c}` : `${run.label}: ${run.reason}`;
        rows.push(`| ${run.label} | ${c} | ${note(why)} | | | | |`);
        continue;
      }
      rows.push(`| ${run.label} | ${c} | ${fmt(r.rps, 0)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${r.meanBatch === null ? '-' : fmt(r.meanBatch, 1)} | ` +
        `${fmt(r.serverCpu, 2)} |`);
      if (r.errors || r.non2xx) notes.push(`${run.label} at concurrency ${c}: ${r.errors} errors, ${r.non2xx} non-2xx answers`);
    }
  }
  const verdicts = [];
  let met = true;
  for (const c of levels.filter((c) => c >= 16)) {
    const ours = res('batching', 'nodetorch', c);
    const py = res('fastapi', 'fastapi', c);
    if (!ours || !py) {
      verdicts.push(`concurrency ${c} not measured`);
      met = false;
      continue;
    }
    const ok = ours.rps > py.rps && ours.p99 < py.p99;
    met &&= ok;
    verdicts.push(`concurrency ${c}: ${(ours.rps / py.rps).toFixed(2)}x the requests/s, p99 ${(ours.p99 / py.p99).toFixed(2)}x (${ok ? 'met' : '**not met**'})`);
  }
  const out = [rows.join('\n'), ''];
  if (notes.length) out.push(notes.map((n, i) => `[${i + 1}] ${n}`).join('  \n'), '');
  const d = first ?? {};
  out.push(
    `**Target:** nodetorch with dynamic batching serves more requests/s than FastAPI, at a lower p99 latency, at ` +
    `concurrency 16 and 64. ${met ? 'Met in this run' : 'Not met in this run'}: ${verdicts.join('; ')}.`,
    '',
    '**Notes.** The seed MLP (Flatten [28, 28], Dense 128 relu, Dense 10 softmax; seeded, untrained) saved once by ' +
    '`model.save()`; examples/serve loads it with `nt.loadModel`, bench/serve_fastapi.py reads the same safetensors ' +
    'with numpy into `torch.nn.Sequential` (the first answer of every server is checked against `model.predict` before the load starts). Every request is ' +
    `the same JSON body, one MNIST test image as pixel / 255 (\`{"inputs": [[784 numbers]]}\`, ${d.bodyBytes ?? '?'} bytes), ` +
    `POSTed over loopback by autocannon (closed loop, one request per connection at a time) from the benchmark process ` +
    `for ${d.seconds ?? '?'} s per concurrency after a ${d.warmup ?? '?'} s warm-up; the server runs in a child process. ` +
    'Latency percentiles are over every 2xx response. nodetorch: Fastify, `maxBatchSize` 64, `maxWaitMs` 0 (a pass ' +
    'takes the requests that queued while the previous pass ran), one forward pass at a time through `model.predict` ' +
    '(libtorch on the addon\'s runner thread) with up to the core count of intra-op threads, predict keeping 1 where its ' +
    'timed passes say that is faster (README "Threads and load"); "no batching" runs one pass per request as it arrives. FastAPI: one uvicorn worker (h11, no uvloop/httptools installed), ' +
    '`async def` endpoint reading `await request.json()`, `torch.tensor`, the forward under `torch.inference_mode()`, ' +
    `a \`JSONResponse\`. Server CPU: user + system CPU seconds of the server process per second. Best of ` +
    `${runs.batching.planned} alternating rounds per server (the round with the most requests/s); the load generator ` +
    `shares the ${os.cpus().length} cores with the server, as does any other load on the machine.`,
  );
  return out.join('\n');
}

// The batch sizes of the TorchScript section (BATCHES in bench/jit.ts and bench/jit.py).
const JIT_BATCHES = [1, 64];

// aten: the cases of bench/aten.ts and bench/aten.py, in table order.
const ATEN_CASES = [
  ['topk', '`x.topk(2)`, x 4x8 float32'],
  ['cumsum', '`x.cumsum(1)`, x 4x8 float32'],
  ['einsum', "`einsum('ij,jk->ik', a, b)`, 4x4 float32"],
];

function renderAten(runs, env) {
  const notes = [];
  const rows = [
    '| case | direct binding (us) | generic, generated method/function (us) | generic, `nt.aten.call` (us) | ' +
      'ratio generic/direct | PyTorch (us) | ratio generic/PyTorch |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  const over = [];
  let measured = true;
  for (const [c, label] of ATEN_CASES) {
    const direct = cell(runs.nodetorch, 'direct', c, notes);
    const generic = cell(runs.nodetorch, 'generic', c, notes);
    const byName = cell(runs.nodetorch, 'nt.aten.call', c, notes);
    const torch = cell(runs.pytorch, 'pytorch', c, notes);
    const ratio = direct.us !== null && generic.us !== null ? generic.us / direct.us : null;
    const vsTorch = torch.us !== null && generic.us !== null ? generic.us / torch.us : null;
    if (ratio === null) measured = false;
    else if (ratio > 2) over.push(`${c} (${ratio.toFixed(2)})`);
    rows.push(`| ${label} | ${direct.text} | ${generic.text} | ${byName.text} | ` +
      `${ratio === null ? 'n/a' : ratio > 2 ? `**${ratio.toFixed(2)}**` : ratio.toFixed(2)} | ${torch.text} | ` +
      `${vsTorch === null ? 'n/a' : vsTorch.toFixed(2)} |`);
  }
  const out = [rows.join('\n'), ''];
  if (notes.length) out.push(notes.map((n, i) => `[${i + 1}] ${n}`).join('  \n'), '');
  const verdict = !measured ? 'Not measured in this run (see n/a).'
    : over.length === 0 ? 'Met in this run.' : `Not met in this run: ${over.join(', ')}.`;
  out.push(
    `**Target:** ratio generic/direct <= 2: an operator reached through the dispatcher by its schema costs at most ` +
      `twice a hand-written binding of it. ${verdict}`,
    '',
    '**Notes.** *direct binding*: a hand-written N-API function calling `at::topk`/`at::cumsum`/`at::einsum` ' +
    '(native/aten.cc `aten_direct_*`, kept as this yardstick). *generic*: the generated `x.topk`, `x.cumsum`, ' +
    '`nt.einsum` (lib/aten), which classify the JS arguments, pick the overload by their types (the resolved operator ' +
    'handle and argument table are cached per op), box them onto a `torch::jit::Stack` and `callBoxed` through ' +
    '`c10::Dispatcher`; *nt.aten.call* adds a lookup of the op by name. Results are freed by `nt.tidy()` in batches ' +
    `of 100 as in the per-op section; ${env.threads} intra-op thread(s); best of ${runs.nodetorch.planned} and ` +
    `${runs.pytorch.planned} alternating rounds. PyTorch: the same calls in Python. Taken on a shared 2-core ` +
    'machine (load average in the line above): with other jobs holding the cores these numbers are not final.',
  );
  return out.join('\n');
}

function renderJit(runs, env) {
  const notes = [];
  const rows = [
    '| case | nodetorch, sequential (us/forward) | nodetorch, 4 in flight (us/forward) | PyTorch `torch.jit.load` (us/forward) | ' +
      'ratio nodetorch sequential/PyTorch | nodetorch best (samples/s) | PyTorch (samples/s) |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  const over = [];
  let measured = true;
  const settings = [[env.threads, runs.nodetorch, runs.pytorch]];
  if (runs.nodetorch1) settings.push([1, runs.nodetorch1, runs.pytorch1]);
  for (const [threads, ours, theirs] of settings) {
    for (const b of JIT_BATCHES) {
      const c = `b${b}`;
      const seq = cell(ours, 'sequential', c, notes);
      const inFlight = cell(ours, '4 in flight', c, notes);
      const torch = cell(theirs, 'jit', c, notes);
      const ratio = seq.us !== null && torch.us !== null ? seq.us / torch.us : null;
      const what = `batch ${b}, ${threads} thread${threads > 1 ? 's' : ''}`;
      if (threads === env.threads) {
        if (ratio === null) measured = false;
        else if (ratio > 1) over.push(`${what} (${ratio.toFixed(2)})`);
      }
      const ratioText = ratio === null ? 'n/a' : ratio > 1 ? `**${ratio.toFixed(2)}**` : ratio.toFixed(2);
      const best = [seq.us, inFlight.us].filter((u) => u !== null);
      const rate = (us) => (us === null ? 'n/a' : ((b * 1e6) / us).toFixed(0));
      rows.push(`| traced small CNN, ${what} | ${seq.text} | ${inFlight.text} | ${torch.text} | ${ratioText} | ` +
        `${rate(best.length ? Math.min(...best) : null)} | ${rate(torch.us)} |`);
    }
  }
  const out = [rows.join('\n'), ''];
  if (notes.length) out.push(notes.map((n, i) => `[${i + 1}] ${n}`).join('  \n'), '');
  const verdict = !measured ? 'Not measured in this run (see n/a).'
    : over.length === 0 ? 'Met in this run.' : `Not met in this run: ${over.join(', ')}.`;
  const same = runs.nodetorch.ok && runs.pytorch.ok && Math.abs(runs.nodetorch.data.checksum - runs.pytorch.data.checksum) < 1e-5;
  out.push(
    `**Target:** ratio <= 1.0 on ${env.threads} thread(s): a forward awaited from JavaScript costs no more than the ` +
      `same call in Python. ${verdict}`,
    '',
    '**Notes.** One TorchScript module, `torch.jit.trace` of Conv2d(1, 32, 3) + ReLU + MaxPool, Conv2d(32, 64, 3) + ReLU + ' +
    'MaxPool, Linear(3136, 128) + ReLU, Linear(128, 10) on 1x28x28 inputs (seed 0), saved by bench/jit.py and loaded by ' +
    '`nt.jit.load` and `torch.jit.load` into the same libtorch' +
    `${same ? ' (their outputs on a fixed input agree)' : ''}; both in eval mode, without autograd (PyTorch under ` +
    '`torch.no_grad()`; nodetorch always runs forward that way). *sequential* awaits each `forward()` before the next: ' +
    'its time includes the hop to a libuv worker thread and back; *4 in flight* keeps four calls queued on the module, ' +
    'as a server answering several requests would (us per forward = 1 / throughput). Timing as in the per-op ' +
    `section (median of timed loops after warm-up); ${env.threads} intra-op thread(s) (nodetorch's default)` +
    `${runs.nodetorch1 ? ', and 1 for the last rows' : ''}; best of ${runs.nodetorch.planned} and ` +
    `${runs.pytorch.planned} alternating rounds${runs.nodetorch1 ? ` (${runs.nodetorch1.planned} each on 1 thread)` : ''}. ` +
    'On 2 shared cores, a forward made of many small parallel regions waits at each one for an OpenMP thread ' +
    'that another process (or another forward\'s team) holds: which side suffers more in a given run depends on ' +
    'the load (see the load average above), so the 1-thread rows show the cost of the binding itself best. *4 in ' +
    'flight* with more than one intra-op thread oversubscribes the cores (each libuv worker brings its own OpenMP ' +
    'team); on one thread it is the fastest way to serve small batches. Allocator: nodetorch\'s addon keeps freed ' +
    'blocks for reuse (glibc `mallopt`, mmap threshold 32 MiB and trim threshold 128 MiB, as in the fit section); ' +
    'PyTorch runs with glibc\'s defaults, what a Python user gets.',
  );
  return out.join('\n');
}

// export and observability (issue 17)
function renderOnnx(runs) {
  const notes = [];
  const note = (reason) => {
    let i = notes.indexOf(reason);
    if (i < 0) i = notes.push(reason) - 1;
    return `n/a [${i + 1}]`;
  };
  const fmt = (x, d) => (x === null || x === undefined || Number.isNaN(x) ? 'n/a' : x.toFixed(d));
  const out = ['| model | parameters | ONNX file (bytes) | export time (ms) |', '|---|---:|---:|---:|'];
  for (const [id, label] of [['mlp', 'seed MLP'], ['cnn', 'seed CNN'], ['lstm', 'IMDB LSTM (Embedding 10000x128, LSTM 128)']]) {
    const r = runs.export.ok ? runs.export.data.variants?.export?.[id] : undefined;
    out.push(r ? `| ${label} | ${r.params} | ${r.bytes} | ${fmt(r.us / 1000, 1)} |` : `| ${label} | | | ${note(`${runs.export.label}: ${runs.export.ok ? 'no result' : runs.export.reason}`)} |`);
  }
  out.push('', '| server | concurrency | requests/s | p50 latency (ms) | p99 latency (ms) | mean batch | server CPU (cores) |', '|---|---:|---:|---:|---:|---:|---:|');
  const order = [['nodetorch', 'nodetorch'], ['onnxruntime', 'onnxruntime'], ['onnxruntimeNobatch', 'onnxruntime-nobatch']];
  const levels = Object.values(runs).find((r) => r.ok && r.data.concurrency)?.data.concurrency ?? [1, 16, 64];
  const loads = [];
  for (const [key, variant] of order) {
    const run = runs[key];
    if (run.ok && run.data.loadAverage) loads.push(`${run.label}: ${run.data.loadAverage.map((l) => l.toFixed(2)).join(', ')}`);
    for (const c of levels) {
      const r = run.ok ? run.data.variants?.[variant]?.[`c${c}`] : undefined;
      if (!r) {
        out.push(`| ${run.label} | ${c} | ${note(run.ok ? `${run.label}: no result at concurrency ${c}` : `${run.label}: ${run.reason}`)} | | | | |`);
        continue;
      }
      out.push(`| ${run.label} | ${c} | ${fmt(r.rps, 0)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${r.meanBatch === null ? '-' : fmt(r.meanBatch, 1)} | ${fmt(r.serverCpu, 2)} |`);
    }
  }
  if (notes.length) out.push('', notes.map((n, i) => `[${i + 1}] ${n}`).join('  \n'));
  out.push('',
    '**Notes.** Export: `await model.export(file, { format: \'onnx\' })` of seeded, unbuilt-then-built models, median of timed loops; ' +
    'each export builds the ModelProto with protobufjs and writes the file atomically (fsync included). Serving: the seed MLP ' +
    'saved by `model.save()`; bench/serve_onnx.ts loads it, exports it to ONNX and serves it with onnxruntime-node ' +
    '(one intra-op thread, sequential execution) behind the same Fastify routes, request parsing and dynamic batcher as ' +
    'examples/serve (imported from it), and bench/serve.ts loads both the same way (see the inference-service section); ' +
    'every server\'s first answer is checked against `model.predict` before the load starts. A Node inference service ' +
    'would otherwise pick onnxruntime-node: it is the anchor to beat. Load average during each run (1, 5, 15 min): ' +
    `${loads.join('; ') || 'n/a'}.` +
    (Object.values(runs).some((r) => r.ok && r.data.loadAverage && r.data.loadAverage[0] > os.cpus().length)
      ? ` **Provisional:** the load average exceeded the ${os.cpus().length} cores during these runs (other jobs on the machine), so the numbers mostly measure contention.` : ''));
  return out.join('\n');
}

// distributed: the allReduce sizes of bench/distributed.ts and bench/distributed.py (case key, bytes).
const DIST_SIZES = [['1 KB', 1 << 10], ['16 KB', 1 << 14], ['256 KB', 1 << 18], ['4 MB', 1 << 22], ['64 MB', 1 << 26]];

function renderDistributed(runs) {
  const notes = [];
  const mbs = (bytes, us) => (us === null ? 'n/a' : (bytes / us).toFixed(1));
  const rows = ['| allReduce, float32 | nodetorch (us) | PyTorch (us) | nodetorch (MB/s) | PyTorch (MB/s) | ratio nodetorch/PyTorch (throughput) |',
    '|---|---:|---:|---:|---:|---:|'];
  const under = [];
  let measured = true;
  for (const [c, bytes] of DIST_SIZES) {
    const ours = cell(runs.nodetorch, 'allreduce', c, notes);
    const theirs = cell(runs.pytorch, 'allreduce', c, notes);
    const ratio = ours.us !== null && theirs.us !== null ? theirs.us / ours.us : null;
    if (ratio === null) measured = false;
    else if (ratio < 0.95) under.push(`${c} (${ratio.toFixed(2)})`);
    const ratioText = ratio === null ? 'n/a' : ratio < 0.95 ? `**${ratio.toFixed(2)}**` : ratio.toFixed(2);
    rows.push(`| ${c} | ${ours.text} | ${theirs.text} | ${mbs(bytes, ours.us)} | ${mbs(bytes, theirs.us)} | ${ratioText} |`);
  }
  const steps = ['| seed MLP step, batch 64 per rank | nodetorch (us) | PyTorch (us) | ratio nodetorch/PyTorch |', '|---|---:|---:|---:|'];
  const got = {};
  for (const [c, label] of [['ddp', 'DistributedDataParallel, 2 ranks'], ['local', 'one process, no DDP'], ['comm', 'communication per step (DDP - one process)']]) {
    const [ours, theirs] = c === 'comm'
      ? [got.ddp[0] !== null && got.local[0] !== null ? got.ddp[0] - got.local[0] : null,
        got.ddp[1] !== null && got.local[1] !== null ? got.ddp[1] - got.local[1] : null]
      : [cell(runs.nodetorch, 'step', c, notes).us, cell(runs.pytorch, 'step', c, notes).us];
    got[c] = [ours, theirs];
    const ratio = ours !== null && theirs !== null && theirs > 0 ? ours / theirs : null;
    steps.push(`| ${label} | ${ours === null ? 'n/a' : fmtUs(ours)} | ${theirs === null ? 'n/a' : fmtUs(theirs)} | ` +
      `${ratio === null ? 'n/a' : ratio > 1.05 && c === 'ddp' ? `**${ratio.toFixed(2)}**` : ratio.toFixed(2)} |`);
  }
  const ddpRatio = got.ddp[0] !== null && got.ddp[1] !== null ? got.ddp[0] / got.ddp[1] : null;
  const out = [rows.join('\n'), '', steps.join('\n'), ''];
  if (notes.length) out.push(notes.map((n, i) => `[${i + 1}] ${n}`).join('  \n'), '');
  const verdict = !measured || ddpRatio === null ? 'Not measured in this run (see n/a).'
    : under.length === 0 && ddpRatio <= 1.05 ? 'Met in this run.'
      : `Not met in this run: ${[...under.map((u) => `allReduce ${u}`), ...(ddpRatio > 1.05 ? [`DDP step (${ddpRatio.toFixed(2)})`] : [])].join(', ')}.`;
  out.push(
    '**Target:** allReduce throughput ratio >= 0.95 at every size and a DDP step <= 1.05x PyTorch\'s. ' + verdict,
    '',
    '**Notes.** Both sides run 2 ranks on this machine over Gloo on 127.0.0.1 (GLOO_SOCKET_IFNAME=lo), one intra-op ' +
    'thread per rank, on the same libtorch: `await nt.distributed.allReduce(t)` one after another against ' +
    '`dist.all_reduce(t)`; per size a fixed iteration count both sides share (2^28 bytes / size, 5 to 1000), best of ' +
    '3 timed loops after 3 warm-up calls. The step: the seed MLP (Flatten, Linear(784, 128), ReLU, Linear(128, 10)), ' +
    'cross-entropy and SGD on one fixed MNIST-shaped batch of 64 per rank, `nn.DistributedDataParallel` (25 MB buckets) ' +
    `against \`torch.nn.parallel.DistributedDataParallel\`; best of 15 loops of 20 steps, and of ${runs.nodetorch.planned} ` +
    'alternating rounds per side (on this machine small collectives and steps vary up to 2x from run to run on both ' +
    'sides: 8 threads share 2 cores). Two ranks sharing 2 cores say nothing about scaling: the useful number is the ' +
    'communication a step adds (the last row), which on a real cluster overlaps with backward.',
  );
  return out.join('\n');
}

// ---- main ----

/**
 * An existing RESULTS.md with the sections in fresh (title -> markdown) replaced or added: the
 * header and every other section stay as they were, in SECTIONS order, unknown titles last.
 */
function mergeResults(old, fresh) {
  const chunks = old.split(/^(?=## )/m);
  const header = chunks.shift();
  const have = new Map(chunks.map((c) => [c.slice(3, c.indexOf('\n')).trim(), c]));
  const titles = [...new Set([...SECTIONS.map((s) => s.title), ...have.keys()])];
  const body = titles.map((t) => fresh.get(t) ?? have.get(t)).filter(Boolean).map((c) => `${c.trimEnd()}\n`);
  return `${header.trimEnd()}\n\n${body.join('\n')}`;
}

function parseArgs(argv) {
  const opts = { only: null, threads: null, retries: 2, underLoad: true, quick: false };
  const ids = SECTIONS.map((s) => s.id);
  const select = (list) => {
    for (const id of list) {
      if (!ids.includes(id)) throw new Error(`bench: no section '${id}'; have ${ids.join(', ')}`);
      (opts.only ??= []).push(id);
    }
  };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--only') select((argv[++i] ?? '').split(','));
    else if (argv[i] === '--threads') opts.threads = Number(argv[++i]);
    else if (argv[i] === '--retries') opts.retries = Number(argv[++i]);
    else if (argv[i] === '--no-under-load') opts.underLoad = false;
    else if (argv[i] === '--quick') opts.quick = true;
    else if (!argv[i].startsWith('-')) select([argv[i]]);
    else throw new Error(`bench: unknown argument '${argv[i]}' (expected section ids, --only id[,id], --threads N, --retries N, --no-under-load or --quick)`);
  }
  if (opts.threads !== null && !(Number.isInteger(opts.threads) && opts.threads > 0)) {
    throw new Error('bench: --threads expects a positive integer');
  }
  if (!(Number.isInteger(opts.retries) && opts.retries >= 0)) throw new Error('bench: --retries expects a non-negative integer');
  return opts;
}

/** One attempt at a section's quiet runs: its results and the 1-minute load average around them. */
function runSection(section, env, quick) {
  const { loaded, avg: loadBefore, others } = loadedNow();
  const runs = Object.entries(section.runs(env)).map(([key, run]) => [key, quick ? { ...run, rounds: 1 } : run]);
  const rounds = Object.fromEntries(runs.map(([key]) => [key, []]));
  const maxRounds = Math.max(...runs.map(([, r]) => r.rounds ?? 1));
  for (let round = 1; round <= maxRounds; round++) {
    for (const [key, run] of runs) {
      if (round > (run.rounds ?? 1)) continue;
      process.stderr.write(`bench ${section.id}: ${run.label}${run.rounds > 1 ? ` (round ${round}/${run.rounds})` : ''}… `);
      const r = run.skip ? { ok: false, reason: run.skip, seconds: 0 } : runJson(run.cmd, run.args, run.timeoutMs, run.env);
      rounds[key].push(r);
      process.stderr.write(`${r.ok ? 'done' : `n/a (${r.reason})`} in ${r.seconds.toFixed(1)} s\n`);
    }
  }
  const results = Object.fromEntries(runs.map(([key, run]) => [key, { label: run.label, planned: run.rounds ?? 1, ...bestOf(rounds[key]) }]));
  return { section, results, loadBefore, loaded, others, loadAfter: loadNow() };
}

function main() {
  const argv = process.argv.slice(2);
  const opts = parseArgs(argv);
  // A full run leaves out the on-demand sections (the 12-minute soak) and keeps their last text.
  const sections = SECTIONS.filter((s) => (opts.only ? opts.only.includes(s.id) : !s.onDemand));

  const started = Date.now();
  if (opts.quick) {
    // inherited by every benchmark process (bench/common.ts DEFAULT_TIMING)
    process.env.BENCH_REPS ??= '3';
    process.env.BENCH_TARGET_MS ??= '100';
  }
  // Recorded because a busy machine (other jobs) is the main source of noise in the numbers.
  const load = os.loadavg().map((l) => l.toFixed(2)).join(', ');
  compileBenchmarks();
  const env = probe(opts.threads);
  // Quiet runs of every section first, retried while the machine was loaded at a section's start;
  // then the under-load runs (their busy process would otherwise raise the next section's load).
  const quiet = [];
  for (const section of sections) {
    let best = null;
    let attempts = 0;
    for (let attempt = 0; attempt <= opts.retries; attempt++) {
      attempts++;
      if (attempt > 0) {
        process.stderr.write(`bench ${section.id}: the machine was loaded at its start (1-minute load ${best.loadBefore.toFixed(2)}` +
          `${best.others === null ? '' : `, others using ${best.others.toFixed(2)} cores`}): running it again in 30 s (${attempt}/${opts.retries})\n`);
        sleepMs(30_000);
      }
      const got = runSection(section, env, opts.quick);
      if (!best || (best.loaded && !got.loaded) || (best.loaded === got.loaded && got.loadBefore < best.loadBefore)) best = got;
      if (!got.loaded) break;
    }
    quiet.push({ ...best, attempts });
  }
  const parts = [];
  for (const q of quiet) {
    const { section, results, loadBefore, loadAfter, attempts, others } = q;
    const under = q.loaded;
    let body = section.render(results, env);
    const loadLine = `*1-minute load average ${loadBefore.toFixed(2)} at the start of this section, ${loadAfter.toFixed(2)} at its end` +
      (others === null ? '' : `; other processes used ${others.toFixed(2)} cores then`) +
      (under ? ` (above ${LOAD_LIMIT} after ${attempts} attempt(s): rows marked † were taken under load and measure the machine as much as the code)*` : '*');
    if (under) body = markRows(body);
    body = `${loadLine}\n\n${body}`;
    if (opts.underLoad && section.underLoad) {
      const runs = section.runs(env);
      const loaded = {};
      const l0 = loadNow();
      for (const [key, extra] of Object.entries(section.underLoad)) {
        const run = runs[key];
        if (!run || run.skip) continue;
        process.stderr.write(`bench ${section.id}: ${run.label} under load… `);
        const r = besideBusyProcess(() => runJson(run.cmd, [...run.args, ...extra], run.timeoutMs, run.env));
        loaded[key] = { label: run.label, ...bestOf([r]) };
        process.stderr.write(`${r.ok ? 'done' : `n/a (${r.reason})`} in ${r.seconds.toFixed(1)} s\n`);
      }
      body += `\n\n${renderUnderLoad(section, results, loaded, `1-minute load average ${l0.toFixed(2)} before, ${loadNow().toFixed(2)} after`)}`;
    }
    parts.push({ title: section.title, body });
  }

  const command = ['npm run bench', ...(argv.length ? ['--', ...argv] : [])].join(' ');
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const file = path.join(root, 'bench', 'RESULTS.md');
  if (opts.only && fs.existsSync(file)) {
    // Some sections only: splice them into the last full run's file, each saying it is newer.
    const stamp = `*Regenerated alone by \`${command}\` on ${date} (${((Date.now() - started) / 1000).toFixed(0)} s, ${env.threads} thread(s), ` +
      `load average ${load} at start); the header describes the last full run.*`;
    const fresh = new Map(parts.map((p) => [p.title, `## ${p.title}\n\n${stamp}\n\n${p.body}\n`]));
    fs.writeFileSync(file, mergeResults(fs.readFileSync(file, 'utf8'), fresh));
    process.stderr.write(`bench: replaced ${parts.map((p) => p.title).join(', ')} in ${path.relative(root, file)}\n`);
    return;
  }
  const gib = (os.totalmem() / 2 ** 30).toFixed(1);
  const header = [
    '# nodetorch benchmarks',
    '',
    `Generated by \`${command}\` on ${date} ` +
      `(${((Date.now() - started) / 1000).toFixed(0)} s).`,
    '',
    `- Machine: ${cpuModel()}, ${os.cpus().length} cores, ${gib} GiB RAM, ${os.platform()} ${os.release()}; ` +
      `load average ${load} (1, 5, 15 min) at start`,
    `- Threads: ${env.threads} (libtorch intra-op threads for nodetorch and PyTorch)`,
    `- Versions: nodetorch ${env.nodetorch}, libtorch ${env.libtorch}, PyTorch ${env.torch} (${PYTHON}), ` +
      `@tensorflow/tfjs ${env.tfjs}, tfjs-backend-wasm ${env.tfjsWasm}, Node ${process.version}`,
    '',
  ].join('\n');
  const fresh = new Map(parts.map((p) => [p.title, `## ${p.title}\n\n${p.body}\n`]));
  const full = `${header}\n${parts.map((p) => `## ${p.title}\n\n${p.body}\n`).join('\n')}`;
  // on-demand sections not run now keep their last text (each stamped with when it was taken)
  const kept = SECTIONS.filter((s) => s.onDemand && !fresh.has(s.title)).map((s) => s.title);
  const old = kept.length && fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const keep = new Map(old ? old.split(/^(?=## )/m).slice(1).map((c) => [c.slice(3, c.indexOf('\n')).trim(), c]) : []);
  const carried = kept.map((t) => keep.get(t)).filter(Boolean).map((c) => `${c.trimEnd()}\n`);
  fs.writeFileSync(file, carried.length ? `${full}\n${carried.join('\n')}` : full);
  process.stderr.write(`bench: wrote ${path.relative(root, file)}\n`);
}

try {
  main();
} catch (e) {
  process.stderr.write(`${e.message}\n`);
  process.exit(1);
}
