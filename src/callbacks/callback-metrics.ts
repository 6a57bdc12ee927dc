import { Counter, Histogram, type Registry } from 'prom-client';
import type { CallbackDeliverer } from './callback-deliverer.js';

/** Seconds; a receiver's answer, up to the longest attempt allowed (--callback-timeout-ms at most 600 s). */
const ATTEMPT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 600];

/** The callbacks' metrics, in the app's registry, kept from the deliverer's attempts in this process. */
export function registerCallbackMetrics(deliverer: CallbackDeliverer, registry: Registry): void {
  const attempts = new Counter({
    name: 'offload_callback_attempts_total',
    help: 'Completion callback attempts made by this process, by result: delivered (a 2xx answer) or failed (another status, no answer, a timeout, a refused address).',
    labelNames: ['result'],
    registers: [registry],
  });
  const ended = new Counter({
    name: 'offload_callback_deliveries_total',
    help: 'Completion callbacks that ended in this process, by outcome: delivered, or given_up (attempts ran out, or the address may not be reached).',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const seconds = new Histogram({
    name: 'offload_callback_attempt_seconds',
    help: 'Duration of completion callback attempts, until the answer\'s status line (or the failure).',
    buckets: ATTEMPT_BUCKETS,
    registers: [registry],
  });
  deliverer.on('attempt', ({ outcome, durationMs }) => {
    attempts.inc({ result: outcome === 'delivered' ? 'delivered' : 'failed' });
    seconds.observe(durationMs / 1000);
    if (outcome !== 'retry') ended.inc({ outcome });
  });
}
