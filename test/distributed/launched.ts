// A training-shaped script for the launcher tests: 3 epochs of one allReduce each, rank 0 writing a
// checkpoint after every epoch and a restarted group resuming after the last one. NT_FAIL_AT=<epoch>
// makes rank 1 exit with status 3 at that epoch on the first attempt.
import * as fs from 'fs';
import * as nt from '../../lib';

async function main(): Promise<void> {
  const dist = nt.distributed;
  await dist.init({ timeoutMs: 20000 });
  const rank = dist.getRank();
  const restart = Number(process.env.TORCHELASTIC_RESTART_COUNT ?? 0);
  const ckpt = process.env.NT_CKPT;
  const start = ckpt && fs.existsSync(ckpt) ? (JSON.parse(fs.readFileSync(ckpt, 'utf8')) as { epoch: number }).epoch + 1 : 0;
  const sums: number[] = [];
  for (let epoch = start; epoch < 3; epoch++) {
    if (process.env.NT_FAIL_AT === String(epoch) && rank === 1 && restart === 0) {
      console.error(`failing at epoch ${epoch}`);
      process.exit(3);
    }
    const t = nt.tensor([epoch + 1]);
    await dist.allReduce(t);
    sums.push(Number(t.item()));
    if (rank === 0 && ckpt) {
      fs.writeFileSync(`${ckpt}.tmp`, JSON.stringify({ epoch }));
      fs.renameSync(`${ckpt}.tmp`, ckpt);
    }
    await dist.barrier();
  }
  console.log(`sums ${JSON.stringify(sums)} restart ${restart} world ${dist.getWorldSize()} local ${dist.getLocalRank()}`);
  await dist.destroy();
}

main().catch((e: Error) => {
  console.error(e.message);
  process.exit(1);
});
