// `offload/types`: what a worker module's author needs, types only (a worker module imports nothing at run time).
export type { JobContext, JobHandler } from '../contracts/task-context.js';
export type { Job, JobError, JobStatus } from '../engine/job.js';
