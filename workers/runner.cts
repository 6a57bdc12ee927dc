// Piscina's entry point for every job kind (CommonJS: see the note beside workerUrl in src/engine/pool.ts): loads the kind's module, runs it, and turns whatever it throws into a
// value, because Piscina loses custom error properties (`code`, `retryable`) on the way back.
import { BroadcastChannel, threadId } from 'node:worker_threads';
import type { JobContext, JobHandler } from '../src/contracts/task-context.js';
import type {
  FromWorkerMessage,
  SerializedTaskError,
  TaskProgress,
  TaskReply,
  TaskRequest,
  ToWorkerMessage,
} from '../src/contracts/task-protocol.js';

const handlers = new Map<string, Promise<JobHandler>>();

function loadHandler(moduleUrl: string): Promise<JobHandler> {
  let handler = handlers.get(moduleUrl);
  if (!handler) {
    handler = import(moduleUrl).then((mod) => {
      const fn = mod.default;
      if (typeof fn !== 'function') throw new TypeError(`the module ${moduleUrl} has no default export function`);
      return fn as JobHandler;
    });
    // A module that failed to load is tried again on the next job rather than failing every job forever.
    handler.catch(() => handlers.delete(moduleUrl));
    handlers.set(moduleUrl, handler);
  }
  return handler;
}

const channels = new Map<string, BroadcastChannel>();
/** Abort controllers of the tasks running in this thread, by `jobId:attempt`. */
const running = new Map<string, AbortController>();

function channelNamed(name: string): BroadcastChannel {
  let channel = channels.get(name);
  if (!channel) {
    channel = new BroadcastChannel(name);
    // The channel must not keep an idle worker thread alive.
    channel.unref();
    channel.onmessage = (event) => {
      const message = (event as { data: ToWorkerMessage }).data;
      if (message.type === 'abort') running.get(`${message.jobId}:${message.attempt}`)?.abort(message.reason);
    };
    channels.set(name, channel);
  }
  return channel;
}

export default async function runTask(request: TaskRequest): Promise<TaskReply> {
  const channel = channelNamed(request.channel);
  const key = `${request.jobId}:${request.attempt}`;
  const controller = new AbortController();
  running.set(key, controller);
  channel.postMessage({ type: 'started', jobId: request.jobId, attempt: request.attempt, threadId } satisfies FromWorkerMessage);

  let latest: TaskProgress | null = null;
  let lastSentAt = 0;
  const ctx: JobContext = {
    signal: controller.signal,
    jobId: request.jobId,
    attempt: request.attempt,
    dataDir: request.dataDir,
    threads: request.threads ?? 1,
    keepThreads(threads) {
      if (threads >= (request.threads ?? 1)) return;
      channel.postMessage({ type: 'threads', jobId: request.jobId, attempt: request.attempt, threads: Math.max(1, threads) } satisfies FromWorkerMessage);
    },
    progress(done, total) {
      latest = { done, total: total ?? null };
      const now = Date.now();
      if (now - lastSentAt >= request.progressIntervalMs) {
        lastSentAt = now;
        channel.postMessage({ type: 'progress', jobId: request.jobId, attempt: request.attempt, ...latest } satisfies FromWorkerMessage);
      }
    },
  };

  try {
    const handler = await loadHandler(request.moduleUrl);
    const value = await handler(request.payload, ctx);
    return { ok: true, value: toStorableResult(value), progress: latest };
  } catch (err) {
    return { ok: false, error: withoutDataDir(serializeError(err), request.dataDir), progress: latest };
  } finally {
    running.delete(key);
  }
}

/**
 * The result is stored as JSON: check here, where the failure can still be reported as the task's, because a
 * value Piscina cannot clone kills the thread and comes back as an empty object.
 */
function toStorableResult(value: unknown): unknown {
  if (value === undefined) return null;
  let json: string;
  try {
    json = JSON.stringify(value);
  } catch (err) {
    throw new TypeError(`the job returned a value that cannot be stored as JSON: ${(err as Error).message}`);
  }
  if (json === undefined) throw new TypeError(`the job returned a value that cannot be stored as JSON (${typeof value})`);
  return JSON.parse(json);
}

function serializeError(err: unknown): SerializedTaskError {
  if (err instanceof Error) {
    const { code, retryable } = err as Error & { code?: unknown; retryable?: unknown };
    return {
      name: err.name,
      message: err.message || err.name,
      code: typeof code === 'string' ? code : null,
      retryable: retryable === true,
      stack: err.stack ?? null,
    };
  }
  // Throwing a string or a plain object is legal JavaScript; keep what it said.
  const message = typeof err === 'string' ? err : safeJson(err);
  return { name: 'NonError', message: `the job threw a non-Error value: ${message}`, code: null, retryable: false, stack: null };
}

/**
 * The message is shown to API clients, and a failed file operation names its path (`EACCES: …, open '/srv/…'`):
 * the data directory is written as `<data-dir>`. The stack, which only goes to the log, keeps it.
 */
function withoutDataDir(error: SerializedTaskError, dataDir: string): SerializedTaskError {
  return dataDir.length > 1 ? { ...error, message: error.message.split(dataDir).join('<data-dir>') } : error;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
