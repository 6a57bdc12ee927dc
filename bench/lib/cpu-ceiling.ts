// How much two threads can get out of this machine right now: a pure CPU loop on one worker thread, then on
// two at once. On a shared machine this is often well under 2, and no export can scale better than it, so
// parallel_2_over_1 reports it beside its own figure.
import { Worker } from 'node:worker_threads';

const LOOP = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', (iterations) => {
  let x = 0;
  for (let i = 0; i < iterations; i++) x += Math.sqrt(i) % 7;
  parentPort.postMessage(x);
});`;

export interface CpuCeiling {
  /** Throughput of two threads ÷ one, measured once (one thread, then two). */
  measure(): Promise<number>;
  close(): Promise<void>;
}

export function createCpuCeiling(iterations = 60_000_000): CpuCeiling {
  const workers = [0, 1].map(() => new Worker(LOOP, { eval: true }));
  const run = (count: number) =>
    Promise.all(workers.slice(0, count).map((worker) => new Promise((resolve) => {
      worker.once('message', resolve);
      worker.postMessage(iterations);
    })));
  let warm = false;
  return {
    async measure() {
      if (!warm) {
        await run(2);
        warm = true;
      }
      const one = performance.now();
      await run(1);
      const oneMs = performance.now() - one;
      const two = performance.now();
      await run(2);
      const twoMs = performance.now() - two;
      return (2 * oneMs) / twoMs;
    },
    async close() {
      await Promise.all(workers.map((worker) => worker.terminate()));
    },
  };
}
