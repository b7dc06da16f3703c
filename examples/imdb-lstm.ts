// The seed text model: Embedding(10000, 128) -> LSTM(128) -> Dense(1, sigmoid) on IMDB reviews
// padded to 200 words, binary crossentropy, Adam. Uses datasets.imdb (Keras' imdb.npz or an
// aclImdb folder under NODETORCH_HOME); when that is absent it says so and trains on generated
// sequences of the same format. Run with `npx tsx examples/imdb-lstm.ts`; QUICK=1 for a short run.
import * as nt from '../lib';

const { Sequential, layers, datasets, data } = nt;
const NUM_WORDS = 10000;
const MAXLEN = 200;

/** Reviews of word indices whose label decides which half of the vocabulary they lean on. */
function generated(n: number): [number[][], nt.Tensor] {
  const seqs: number[][] = [];
  const labels: bigint[] = [];
  for (let i = 0; i < n; i++) {
    const label = i % 2;
    const len = 50 + Math.floor(Math.random() * 150);
    const seq = [1];
    for (let k = 1; k < len; k++) {
      const lean = Math.random() < 0.3;
      const lo = lean ? (label ? 5000 : 2) : 2;
      const hi = lean ? (label ? NUM_WORDS : 5000) : NUM_WORDS;
      seq.push(lo + Math.floor(Math.random() * (hi - lo)));
    }
    seqs.push(seq);
    labels.push(BigInt(label));
  }
  return [seqs, nt.tensor(BigInt64Array.from(labels))];
}

async function main(): Promise<void> {
  const quick = !!process.env.QUICK;
  let train: [number[][], nt.Tensor];
  let test: [number[][], nt.Tensor];
  try {
    [train, test] = await datasets.imdb.loadData({ numWords: NUM_WORDS });
  } catch (e) {
    console.log(`IMDB is not available here (${(e as Error).message.split('\n')[0]}).`);
    console.log('Training on generated sequences of the same format instead.');
    train = generated(quick ? 512 : 5000);
    test = generated(quick ? 256 : 2000);
  }
  if (quick) {
    train = [train[0].slice(0, 512), train[1].slice(0, 0, 512)];
    test = [test[0].slice(0, 256), test[1].slice(0, 0, 256)];
  }
  const xTrain = data.padSequences(train[0], { maxlen: MAXLEN });
  const xTest = data.padSequences(test[0], { maxlen: MAXLEN });
  const model = new Sequential([
    new layers.Embedding(NUM_WORDS, 128, { inputShape: [MAXLEN] }),
    new layers.LSTM(128),
    new layers.Dense(1, { activation: 'sigmoid' }),
  ]);
  model.compile({ optimizer: 'adam', loss: 'binary_crossentropy', metrics: ['accuracy'] });
  model.summary();
  await model.fit(xTrain, train[1].float().reshape(-1, 1), { epochs: quick ? 2 : 3, batchSize: 32, validationSplit: 0.2 });
  const [loss, acc] = await model.evaluate(xTest, test[1].float().reshape(-1, 1), { verbose: 0 });
  console.log(`Test loss: ${loss.toFixed(4)}`);
  console.log(`Test accuracy: ${acc.toFixed(4)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
