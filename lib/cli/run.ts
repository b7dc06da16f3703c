// `nodetorch run`: torchrun for Node scripts. Starts this machine's ranks with torchrun's variables,
// prefixes their output with the rank, stops every rank when one fails, restarts the group up to
// --max-restarts times, and exits with the failing rank's status.
import { ChildProcess, spawn } from 'child_process';
import * as os from 'os';
import * as path from 'path';

export const RUN_HELP = `Usage: nodetorch run [options] script.{js,ts} [script args]

Starts --nproc-per-node copies of the script on this machine as ranks of one process group, as
torchrun does, each with LOCAL_RANK, RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, GROUP_RANK, MASTER_ADDR,
MASTER_PORT and TORCHELASTIC_RESTART_COUNT set; nt.distributed.init() reads them. Each output line
is prefixed with its rank ('[rank1]: ...'). When a rank fails, the others are stopped; the group is
started again up to --max-restarts times (the script resumes from its own checkpoints, e.g.
Keras' BackupAndRestore), and the exit status is the failing rank's.

Options:
  --nproc-per-node N   ranks on this machine (default 1; 'auto': one per CPU core)
  --nnodes M           machines in the job (default 1)
  --node-rank R        this machine's index, 0..M-1 (default 0)
  --master-addr A      address of node 0, which hosts the store (default 127.0.0.1)
  --master-port P      its port (default 29500)
  --max-restarts K     restarts of the whole group after a failure (default 0)
  --no-prefix          leave the ranks' output lines as they are
  -h, --help           this text

Underscore spellings (--nproc_per_node) and --opt=value work too. TypeScript scripts run through
tsx (a package the project must have).
`;

interface RunArgs {
  nprocPerNode: number; nnodes: number; nodeRank: number; masterAddr: string; masterPort: number;
  maxRestarts: number; prefix: boolean; script: string; scriptArgs: string[];
}

class UsageError extends Error {}

function intValue(name: string, v: string | undefined, min: number): number {
  const n = Number(v);
  if (v === undefined || v === '' || !Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`expected ${name} to be an integer >= ${min} but received ${v === undefined ? 'nothing' : `'${v}'`}`);
  }
  return n;
}

export function parseRunArgs(argv: string[]): RunArgs | 'help' {
  const a: RunArgs = { nprocPerNode: 1, nnodes: 1, nodeRank: 0, masterAddr: '127.0.0.1', masterPort: 29500, maxRestarts: 0,
    prefix: true, script: '', scriptArgs: [] };
  let i = 0;
  while (i < argv.length) {
    const arg = argv[i];
    if (!arg.startsWith('-')) break;
    if (arg === '-h' || arg === '--help') return 'help';
    if (arg === '--') { i++; break; }
    const eq = arg.indexOf('=');
    const name = (eq >= 0 ? arg.slice(0, eq) : arg).replace(/_/g, '-');
    if (name === '--no-prefix') { a.prefix = false; i++; continue; }
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[i + 1];
    i += eq >= 0 ? 1 : 2;
    switch (name) {
      case '--nproc-per-node':
        a.nprocPerNode = value === 'auto' ? os.availableParallelism() : intValue('--nproc-per-node', value, 1); break;
      case '--nnodes': a.nnodes = intValue('--nnodes', value, 1); break;
      case '--node-rank': a.nodeRank = intValue('--node-rank', value, 0); break;
      case '--master-addr':
        if (!value) throw new UsageError('expected --master-addr to be a host name or address');
        a.masterAddr = value; break;
      case '--master-port': a.masterPort = intValue('--master-port', value, 0); break;
      case '--max-restarts': a.maxRestarts = intValue('--max-restarts', value, 0); break;
      default: throw new UsageError(`unknown option '${arg}'`);
    }
  }
  if (a.masterPort > 65535) throw new UsageError(`expected --master-port to be at most 65535 but received ${a.masterPort}`);
  if (a.nodeRank >= a.nnodes) throw new UsageError(`--node-rank ${a.nodeRank} must be below --nnodes ${a.nnodes}`);
  if (i >= argv.length) throw new UsageError('expected a script to run');
  a.script = argv[i];
  a.scriptArgs = argv.slice(i + 1);
  return a;
}

/** node and its arguments for a script: TypeScript through tsx's require hook. */
function command(script: string): string[] {
  if (/\.[cm]?tsx?$/.test(script)) {
    let hook: string;
    try {
      hook = require.resolve('tsx/cjs', { paths: [process.cwd(), __dirname] });
    } catch {
      throw new UsageError(`${script} is TypeScript, which needs the tsx package (npm install --save-dev tsx), or run the compiled .js`);
    }
    return [process.execPath, '--require', hook, script];
  }
  return [process.execPath, script];
}

/** Copies a stream to out line by line, each line prefixed. */
function pipeLines(from: NodeJS.ReadableStream, to: NodeJS.WritableStream, prefix: string): void {
  let rest = '';
  from.setEncoding('utf8');
  from.on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    if (lines.length) to.write(lines.map((l) => `${prefix}${l}\n`).join(''));
  });
  from.on('end', () => { if (rest) to.write(`${prefix}${rest}\n`); });
}

function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal ? (os.constants.signals[signal] ?? 1) : 1);
}

interface Attempt { status: number; failedRank: number | null }

function runGroup(a: RunArgs, argv0: string[], attempt: number, stopping: { children: ChildProcess[] }): Promise<Attempt> {
  const worldSize = a.nnodes * a.nprocPerNode;
  return new Promise((resolve) => {
    let failed: { rank: number; status: number } | null = null;
    let left = a.nprocPerNode;
    let killTimer: NodeJS.Timeout | null = null;
    const children: ChildProcess[] = [];
    const stopOthers = (): void => {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
      killTimer = setTimeout(() => {
        for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      }, 5000);
    };
    for (let local = 0; local < a.nprocPerNode; local++) {
      const rank = a.nodeRank * a.nprocPerNode + local;
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        LOCAL_RANK: String(local), RANK: String(rank), GROUP_RANK: String(a.nodeRank), WORLD_SIZE: String(worldSize),
        LOCAL_WORLD_SIZE: String(a.nprocPerNode), MASTER_ADDR: a.masterAddr, MASTER_PORT: String(a.masterPort),
        TORCHELASTIC_RESTART_COUNT: String(attempt), TORCHELASTIC_MAX_RESTARTS: String(a.maxRestarts),
      };
      delete env.TORCHELASTIC_USE_AGENT_STORE; // rank 0 hosts the store, not an agent
      const child = spawn(argv0[0], [...argv0.slice(1), ...a.scriptArgs], {
        env, stdio: ['inherit', a.prefix ? 'pipe' : 'inherit', a.prefix ? 'pipe' : 'inherit'],
      });
      if (a.prefix) {
        pipeLines(child.stdout!, process.stdout, `[rank${rank}]: `);
        pipeLines(child.stderr!, process.stderr, `[rank${rank}]: `);
      }
      child.on('error', (e) => {
        process.stderr.write(`nodetorch run: could not start rank ${rank}: ${e.message}\n`);
      });
      child.on('close', (code, signal) => {
        const status = exitStatus(code, signal);
        if (status !== 0 && !failed) {
          failed = { rank, status };
          process.stderr.write(`nodetorch run: rank ${rank} exited with ${signal ? `signal ${signal}` : `status ${code}`}; ` +
            'stopping the other ranks\n');
          stopOthers();
        }
        if (--left === 0) {
          if (killTimer) clearTimeout(killTimer);
          resolve(failed ? { status: failed.status, failedRank: failed.rank } : { status: 0, failedRank: null });
        }
      });
      children.push(child);
    }
    stopping.children = children;
  });
}

/** `nodetorch run ...`: resolves to the exit status. */
export async function run(argv: string[]): Promise<number> {
  let a: RunArgs | 'help';
  let argv0: string[];
  try {
    a = parseRunArgs(argv);
    if (a === 'help') {
      process.stdout.write(RUN_HELP);
      return 0;
    }
    argv0 = command(path.resolve(a.script));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`nodetorch run: ${e.message}\n\n${RUN_HELP}`);
    return 2;
  }
  const state: { children: ChildProcess[] } = { children: [] };
  const forward = (sig: NodeJS.Signals) => () => {
    for (const c of state.children) if (c.exitCode === null) c.kill(sig);
  };
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    for (let attempt = 0; ; attempt++) {
      const r = await runGroup(a, argv0, attempt, state);
      if (r.status === 0) return 0;
      if (attempt >= a.maxRestarts) {
        if (a.maxRestarts > 0) process.stderr.write(`nodetorch run: no restarts left (--max-restarts ${a.maxRestarts})\n`);
        return r.status;
      }
      process.stderr.write(`nodetorch run: restarting the group (restart ${attempt + 1} of ${a.maxRestarts})\n`);
    }
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}
