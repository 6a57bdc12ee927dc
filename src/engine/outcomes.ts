// What each way a task can end becomes: the outcome the dispatcher writes. The shapes of Piscina's rejections
// are the ones Piscina 5 really returns (pinned by test/failures.test.ts).
import type { TaskReply } from '../contracts/task-protocol.js';
import { EXTERNAL_FACTOR } from './heap-guard.js';
import { JobErrorCodes } from './job.js';
import type { AbortReason, TaskOutcome } from './pool.js';

export function fromReply(reply: TaskReply, taskErrorCodes: ReadonlySet<string>): TaskOutcome {
  if (reply.ok) return reply;
  const { error } = reply;
  // A task may name one of its kind's codes; any other failure of the task is a task_error.
  const code = error.code !== null && taskErrorCodes.has(error.code) ? error.code : 'task_error';
  const details: Record<string, unknown> = { error_name: error.name };
  if (error.code && code === 'task_error') details.error_code = error.code;
  return {
    ok: false,
    error: { code, message: error.message, details },
    retryable: code === 'task_error' && error.retryable,
    aborted: null,
    stack: error.stack,
  };
}

const EXIT_MESSAGE = /worker exited with code: (-?\d+)/;

/**
 * A rejected run() means the thread failed, since the runner turns task errors into replies. The shapes below
 * are what Piscina 5 really returns (pinned by test/failures.test.ts).
 */
export function fromRejection(err: unknown, workerMemoryMb: number): TaskOutcome {
  const error = err as { code?: unknown; message?: unknown; stack?: unknown } | null | undefined;
  const message = typeof error?.message === 'string' ? error.message : '';
  if (error?.code === 'ERR_WORKER_OUT_OF_MEMORY') {
    return {
      ok: false,
      error: {
        code: 'worker_oom',
        message: `The worker thread ran out of memory (heap limit ${workerMemoryMb} MB) and was terminated.`,
        details: { memory_limit_mb: workerMemoryMb },
      },
      retryable: JobErrorCodes.worker_oom.retryable,
      aborted: null,
    };
  }
  const exit = EXIT_MESSAGE.exec(message);
  if (exit) {
    return {
      ok: false,
      error: {
        code: 'worker_exit',
        message: `The worker thread exited with code ${exit[1]} while running the job.`,
        details: { exit_code: Number(exit[1]) },
      },
      retryable: JobErrorCodes.worker_exit.retryable,
      aborted: null,
    };
  }
  // An exception thrown outside the task's promise (a timer, a stray rejection) kills the thread and comes back
  // as the thrown value itself; a result that could not be cloned comes back as `{}`.
  const thrown = message || describe(err);
  return {
    ok: false,
    error: {
      code: 'worker_exit',
      message: `The worker thread crashed while running the job: ${thrown}`,
      details: { reason: 'uncaught_exception' },
    },
    retryable: JobErrorCodes.worker_exit.retryable,
    aborted: null,
    stack: typeof error?.stack === 'string' ? error.stack : null,
  };
}

export function abortedOutcome(reason: Exclude<AbortReason, 'oom'>): TaskOutcome {
  const messages: Record<Exclude<AbortReason, 'oom'>, string> = {
    cancelled: 'The job was cancelled.',
    timeout: 'The job ran past its timeout and its thread was terminated.',
    shutdown: 'The server shut down while the job ran.',
    lease_lost: 'Another process took over the job after its lease expired.',
  };
  const code = reason === 'timeout' ? 'timeout' : 'cancelled';
  return { ok: false, error: { code, message: messages[reason] }, retryable: false, aborted: reason };
}

function describe(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** The heap guard terminated the thread (see heap-guard.ts): a worker_oom, as when V8 ends it at its own limit. */
export function overHeapLimitOutcome(limitMb: number, used: { heapMb: number; externalMb: number } | undefined): TaskOutcome {
  const external = used !== undefined && used.heapMb <= limitMb;
  return {
    ok: false,
    error: {
      code: 'worker_oom',
      message: external
        ? `The worker thread held ${used.externalMb} MB outside its heap (Buffers), over ${EXTERNAL_FACTOR} × its limit of ${limitMb} MB, and was terminated.`
        : `The worker thread's heap passed its limit of ${limitMb} MB and the thread was terminated.`,
      details: { memory_limit_mb: limitMb, heap_used_mb: used?.heapMb, external_mb: used?.externalMb, detected_by: 'heap_guard' },
    },
    retryable: JobErrorCodes.worker_oom.retryable,
    aborted: null,
  };
}
