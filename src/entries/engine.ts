// `offload/engine`: the generic job engine and its stores, without HTTP, datasets or exports.
export { createEngine, Engine } from '../engine/engine.js';
export type { EngineOptions, EnqueueRequest, EnqueueResult, ListJobsRequest, CancelResult, EngineStats } from '../engine/engine.js';
export { ENGINE_DEFAULTS } from '../engine/engine-options.js';
export { EngineError } from '../engine/engine-error.js';
export { JobStatus, JobErrorCodes } from '../engine/job.js';
export type { Job, JobError, JobContext, JobHandler } from '../engine/job.js';
export type { JobStore } from '../engine/job-store.js';
export { openSqliteJobStore, SqliteJobStore } from '../engine/sqlite/sqlite-job-store.js';
export { CatchUpPolicy, OverlapPolicy } from '../engine/schedule.js';
export type { JobTemplate, Schedule } from '../engine/schedule.js';
export type { ScheduleChange, ScheduleRequest, Schedules } from '../engine/schedules.js';
export type { ScheduleStore } from '../engine/schedule-store.js';
