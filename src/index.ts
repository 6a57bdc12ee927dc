// The embeddable API: the engine without HTTP, and the Koa app for those who want the API too.
export { createEngine, Engine } from './engine/engine.js';
export type { EngineOptions, EnqueueRequest, ListJobsRequest, CancelResult, EngineStats } from './engine/engine.js';
export { EngineError } from './engine/engine-error.js';
export { JobStatus, JobErrorCodes } from './engine/job.js';
export type { Job, JobError, JobContext, JobHandler } from './engine/job.js';
export type { JobStore } from './engine/job-store.js';
export { createApp } from './http/app.js';
export { startServer } from './server.js';
export { parseConfig } from './config.js';
export { createLogger } from './logger.js';
