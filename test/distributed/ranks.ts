// What the multi-process distributed suites share: a free loopback port, ranks run as child
// processes in their own process groups (killed whole at a deadline and after each test), their
// RESULT/ERROR lines, and the scenario runner the rank scripts end with.
import { ChildProcess, spawn } from 'child_process';
import * as path from 'path';

const root = path.resolve(__dirname, '..', '..');

// What a rank printed as its RESULT line: JSON whose shape each test knows.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;
export interface RankResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; result?: Json; error?: string }

export { freePort } from '../../bench/common';

const live = new Set<ChildProcess>();
function killGroup(c: ChildProcess): void {
  try {
    process.kill(-c.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
}
/** Kills every rank still running (each test file calls it in afterEach). */
export function killLiveRanks(): void {
  for (const c of live) killGroup(c);
  live.clear();
}

/** Runs one rank (or launcher) with Gloo on loopback; resolves with its output, killed at deadlineMs. */
export function runRank(cmd: string, args: string[], env: NodeJS.ProcessEnv, deadlineMs: number): Promise<RankResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: root, env: { ...process.env, GLOO_SOCKET_IFNAME: 'lo', ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    });
    live.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => { stdout += d; });
    child.stderr!.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => killGroup(child), deadlineMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      const r: RankResult = { code, signal, stdout, stderr };
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT ') || l.startsWith('ERROR '));
      if (line?.startsWith('RESULT ')) r.result = JSON.parse(line.slice(7));
      else if (line) r.error = line.slice(6);
      resolve(r);
    });
  });
}

/** A rank's result, or an Error with everything it printed. */
export function ok(r: RankResult): Json {
  if (!r.result) throw new Error(`rank failed (code ${r.code}, signal ${r.signal}): ${r.error ?? ''}\n${r.stdout}\n${r.stderr}`);
  return r.result;
}

/** The end of a rank script: runs the named scenario and prints RESULT <json> or ERROR <message>. */
export function runScenario(scenarios: Record<string, () => Promise<unknown>>, name: string): void {
  const fn = scenarios[name];
  if (!fn) {
    console.log(`ERROR unknown scenario ${name}`);
    process.exit(2);
  }
  fn().then((r) => {
    console.log(`RESULT ${JSON.stringify(r)}`);
    process.exit(0);
  }, (e: Error) => {
    console.log(`ERROR ${e.message}`);
    process.exit(1);
  });
}
