import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { EngineError } from './engine-error.js';
import { JobErrorCodes, type RegisteredKind } from './job.js';

export interface RegisterOptions {
  /**
   * Enqueued only by the host application's own code, never on a client's behalf through a generic jobs API
   * (`isPublic` says which is which). Such a kind cannot be registered again.
   */
  internal?: boolean;
  /** Codes the kind's tasks may fail with besides task_error (their own validation failures; never retried). */
  taskErrorCodes?: readonly string[];
  /**
   * Threads one job may use, its own included (default 1). A job starting while threads are idle is lent up to
   * maxThreads − 1 of them, counted busy until it ends or gives them back (ctx.keepThreads); it
   * learns how many from ctx.threads.
   */
  maxThreads?: number;
}

const KIND_NAME = /^[a-z0-9][a-z0-9_.-]{0,63}$/i;

/** The job kinds an engine runs: each one's worker module, and what its tasks may say. */
export class KindRegistry {
  readonly #kinds = new Map<string, RegisteredKind>();

  /** `module`: a file path or URL whose default export runs jobs of `kind`. */
  register(kind: string, module: string | URL, { internal = false, taskErrorCodes = [], maxThreads = 1 }: RegisterOptions = {}): void {
    if (!KIND_NAME.test(kind)) {
      throw new EngineError('invalid_option', `job kind "${kind}" must be 1-64 letters, digits, '.', '_' or '-'`);
    }
    if (this.#kinds.get(kind)?.internal) {
      throw new EngineError('invalid_option', `job kind "${kind}" is built in and cannot be registered again`);
    }
    if (!Number.isSafeInteger(maxThreads) || maxThreads < 1) {
      throw new EngineError('invalid_option', `maxThreads of job kind "${kind}" must be a positive integer`);
    }
    const clash = taskErrorCodes.find((code) => Object.hasOwn(JobErrorCodes, code));
    if (clash) throw new EngineError('invalid_option', `"${clash}" is one of the engine's own error codes`);
    const url = module instanceof URL ? module : /^[a-z]+:/i.test(module) ? new URL(module) : pathToFileURL(resolve(module));
    if (url.protocol === 'file:' && !existsSync(fileURLToPath(url))) {
      throw new EngineError('invalid_option', `worker module for kind "${kind}" not found: ${fileURLToPath(url)}`);
    }
    this.#kinds.set(kind, { moduleUrl: url.href, internal, taskErrorCodes: new Set(taskErrorCodes), maxThreads });
  }

  get(kind: string): RegisteredKind | undefined {
    return this.#kinds.get(kind);
  }

  names(): string[] {
    return [...this.#kinds.keys()];
  }

  /** Registered and not internal: a kind a client may name. */
  isPublic(kind: string): boolean {
    const registered = this.#kinds.get(kind);
    return registered !== undefined && !registered.internal;
  }
}
