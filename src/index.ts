// The embeddable API: the whole composition, the generic engine and its store, and the Koa app.
export { createOffload, OFFLOAD_DEFAULTS } from './compose.js';
export type { Offload, OffloadOptions } from './compose.js';
export { createEngine, Engine } from './engine/engine.js';
export type { EngineOptions, EnqueueRequest, EnqueueResult, ListJobsRequest, CancelResult, EngineStats } from './engine/engine.js';
export { ENGINE_DEFAULTS } from './engine/engine-options.js';
export { EngineError } from './engine/engine-error.js';
export { JobStatus, JobErrorCodes } from './engine/job.js';
export type { Job, JobError, JobContext, JobHandler } from './engine/job.js';
export type { JobStore } from './engine/job-store.js';
export { openSqliteJobStore, SqliteJobStore } from './engine/sqlite/sqlite-job-store.js';
export { createApp, APP_DEFAULTS } from './http/app.js';
export { startServer } from './server.js';
export { parseConfig } from './config.js';
export { createLogger } from './logger.js';
