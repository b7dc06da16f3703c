// examples/tuner-random-search.ts in quick mode, run as users run it (npx tsx), in its own temp project.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.resolve(__dirname, '..');
const tsx = path.join(root, 'node_modules', '.bin', 'tsx');

test('tuner-random-search (quick mode) searches 5 trials of 3 executions and evaluates the best model', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nt-tuner-example-'));
  try {
    const r = spawnSync(tsx, [path.join('examples', 'tuner-random-search.ts')], {
      cwd: root, encoding: 'utf8', timeout: 180_000, env: { ...process.env, QUICK: '1', TUNER_DIR: dir },
    });
    if (r.status !== 0) throw new Error(`tuner-random-search.ts exited with ${r.status}: ${r.stderr}`);
    const out = r.stdout;
    expect(out).toContain('Search space summary\nDefault search space size: 2\nunits (Int)\n' +
      "{ default: 32, conditions: [], minValue: 32, maxValue: 512, step: 32, sampling: 'linear' }\nlearning_rate (Choice)\n" +
      '{ default: 0.01, conditions: [], values: [ 0.01, 0.001, 0.0001 ] }');
    expect(out.match(/^Trial \d Complete/gm)).toHaveLength(5);
    expect(out.match(/^Epoch 1\/1$/gm)).toHaveLength(15); // 5 trials x 3 executions
    expect(out).toContain('Showing 5 best trials\nObjective(name="val_accuracy", direction="max")');
    const trials = fs.readdirSync(path.join(dir, 'helloworld')).filter((n) => n.startsWith('trial_'));
    expect(trials).toHaveLength(5);
    expect(out).toMatch(/^Best hyperparameters: units \d+, learning_rate 0\.0*1$/m);
    expect(Number(out.match(/Test accuracy: ([\d.]+)/)![1])).toBeGreaterThan(0.8);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
