#!/usr/bin/env node
// npm run fuzz [-- --seconds N --seed S --batch B]: calls every native export and the public loaders
// with generated garbage (test/fuzz/worker.ts) in child processes, a batch of cases each, so that a
// crash (a signal, an abort) or a hang is counted, attributed to its case and printed with the command
// that replays it; the batch then goes on after that case. Exits 1 when any case crashed or hung.
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
const worker = path.join('test', 'fuzz', 'worker.ts');

function parseArgs(argv) {
  const o = { seconds: 60, seed: Math.floor(Date.now() / 1000) % 100000, batch: 400, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v < 0) throw new Error(`fuzz: expected a non-negative number after ${a}`);
      return v;
    };
    if (a === '--seconds') o.seconds = next();
    else if (a === '--seed') o.seed = Math.floor(next());
    else if (a === '--batch') o.batch = Math.max(1, Math.floor(next()));
    else if (a === '--json') o.json = true;
    else throw new Error(`fuzz: unknown argument ${a}; expected --seconds N, --seed S, --batch B, --json`);
  }
  return o;
}

// A child may not map more than this much writable memory (RLIMIT_DATA, which wasm reservations do not count against): a case asking for terabytes is then an
// allocation error (a JS RangeError), not the machine's OOM killer ending a healthy process.
const ADDRESS_SPACE_KB = 8 * 1024 * 1024;

function replay(seed, i) {
  return `node --expose-gc --import tsx ${worker} ${seed} ${i} 1`;
}

/** Runs cases [start, start + count); resolves with the last started case and how the child ended. */
function runBatch(seed, start, count, deadlineMs) {
  return new Promise((resolve) => {
    const progress = path.join(os.tmpdir(), `nt-fuzz-${process.pid}-${start}.log`);
    const cmd = `ulimit -d ${ADDRESS_SPACE_KB} 2>/dev/null; exec "${process.execPath}" --expose-gc --import tsx ${worker} ${seed} ${start} ${count} "${progress}"`;
    const child = spawn('/bin/sh', ['-c', cmd], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NT_FUZZ_SETTLE_MS: '20000' } });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
    // a child that neither finishes nor reports for this long is hung in a synchronous call
    let lastSize = -1;
    let quietSince = Date.now();
    let killed = null;
    const watch = setInterval(() => {
      let size = 0;
      try { size = fs.statSync(progress).size; } catch { /* not started yet */ }
      if (size !== lastSize) { lastSize = size; quietSince = Date.now(); }
      if (Date.now() - quietSince > 60_000) { killed = 'hang'; child.kill('SIGKILL'); }
      else if (Date.now() > deadlineMs + 30_000) { killed = 'budget'; child.kill('SIGKILL'); }
    }, 500);
    child.on('close', (code, signal) => {
      clearInterval(watch);
      let text = '';
      try { text = fs.readFileSync(progress, 'utf8'); fs.unlinkSync(progress); } catch { /* never started */ }
      let started = -1;
      let startedDesc = '';
      let finished = -1;
      let done = false;
      const notes = [];
      let hungCase = -1;
      for (const line of text.split('\n')) {
        if (line.startsWith('> ')) { const tab = line.indexOf('\t'); started = Number(line.slice(2, tab)); startedDesc = line.slice(tab + 1); }
        else if (line.startsWith('. ')) finished = Number(line.slice(2));
        else if (line.startsWith('! ')) hungCase = Number(line.slice(2, line.indexOf('\t')));
        else if (line.startsWith('? ')) notes.push(line.slice(2));
        else if (line === '#done') done = true;
      }
      resolve({ code, signal, killed, started, startedDesc, finished, done, hungCase, notes, stderr });
    });
  });
}

async function fuzz(opts) {
  const t0 = Date.now();
  const deadline = t0 + opts.seconds * 1000;
  const report = { seed: opts.seed, cases: 0, crashes: [], hangs: [], notes: [], seconds: 0 };
  let next = 0;
  while (Date.now() < deadline) {
    const r = await runBatch(opts.seed, next, opts.batch, deadline);
    if (r.started < 0) {
      report.crashes.push({ case: next, call: '<the worker did not start>', how: r.stderr.trim().split('\n').slice(-5).join('\n'), replay: replay(opts.seed, next) });
      break;
    }
    report.notes.push(...r.notes);
    if (r.done) {
      report.cases += opts.batch;
      next += opts.batch;
      continue;
    }
    // the last case started and not finished is the one that killed the child or hung
    const bad = r.hungCase >= 0 ? r.hungCase : r.started;
    report.cases += bad - next + 1;
    if (r.killed === 'budget') { report.cases -= 1; break; }
    const entry = { case: bad, call: r.startedDesc, replay: replay(opts.seed, bad) };
    if (r.hungCase >= 0 || r.killed === 'hang') report.hangs.push({ ...entry, how: r.hungCase >= 0 ? 'its promise never settled' : 'a synchronous call never returned' });
    else report.crashes.push({ ...entry, how: r.signal ? `killed by ${r.signal}` : `exited with code ${r.code}`, stderr: r.stderr.trim().split('\n').slice(-6).join('\n') });
    next = bad + 1;
  }
  report.seconds = Math.round((Date.now() - t0) / 1000);
  return report;
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(e.message);
    process.exit(2);
  }
  const report = await fuzz(opts);
  if (opts.json) {
    console.log(JSON.stringify(report));
  } else {
    console.log(`fuzz: seed ${report.seed}: ${report.cases} cases in ${report.seconds} s, ${report.crashes.length} crashes, ${report.hangs.length} hangs`);
    for (const c of report.crashes) console.log(`CRASH case ${c.case}: ${c.call}\n  ${c.how}\n  replay: ${c.replay}${c.stderr ? `\n  ${c.stderr.replace(/\n/g, '\n  ')}` : ''}`);
    for (const h of report.hangs) console.log(`HANG case ${h.case}: ${h.call}\n  ${h.how}\n  replay: ${h.replay}`);
    for (const n of report.notes.slice(0, 20)) console.log(`note: ${n}`);
  }
  process.exit(report.crashes.length || report.hangs.length ? 1 : 0);
}

if (require.main === module) void main();
module.exports = { fuzz };
