// The fuzzer (scripts/fuzz.js, `npm run fuzz -- --seconds N` for a longer run) for about a minute:
// garbage into every native export and the public loaders, each batch of cases in a child process.
// Any crash or hang fails this test, which prints the case and the command that replays it.
// The seed changes with the day, so CI explores new cases over time yet a failure replays exactly.
const { fuzz } = require('../scripts/fuzz.js') as { fuzz: (o: { seconds: number; seed: number; batch: number }) => Promise<FuzzReport> };

interface Found { case: number; call: string; how: string; replay: string; stderr?: string }
interface FuzzReport { seed: number; cases: number; crashes: Found[]; hangs: Found[]; notes: string[]; seconds: number }

const SECONDS = Number(process.env.NT_FUZZ_SECONDS ?? 60);

test(`${SECONDS} s of fuzzing: no crash and no hang`, async () => {
  const seed = Number(process.env.NT_FUZZ_SEED ?? Math.floor(Date.now() / 86_400_000) % 100_000);
  const r = await fuzz({ seconds: SECONDS, seed, batch: 400 });
  const found = [...r.crashes.map((c) => `CRASH ${c.call}: ${c.how}\n  replay: ${c.replay}\n  ${c.stderr ?? ''}`),
    ...r.hangs.map((h) => `HANG ${h.call}: ${h.how}\n  replay: ${h.replay}`)];
  console.log(`fuzz: seed ${r.seed}, ${r.cases} cases in ${r.seconds} s`);
  expect(found).toEqual([]);
  expect(r.cases).toBeGreaterThan(0);
}, (SECONDS + 240) * 1000);
