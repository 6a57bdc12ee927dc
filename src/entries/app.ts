// `offload/app`: the whole composition (engine, datasets, exports, the Koa app) and the server around it.
export { createOffload, OFFLOAD_DEFAULTS } from '../compose.js';
export type { Offload, OffloadOptions } from '../compose.js';
export { createApp, APP_DEFAULTS } from '../http/app.js';
export type { AppOptions } from '../http/app.js';
export { startServer } from '../server.js';
export type { RunningServer } from '../server.js';
export { parseConfig } from '../config.js';
export type { Config } from '../config.js';
export { createLogger } from '../logger.js';
export { CallbackDeliverer, CALLBACK_DEFAULTS } from '../callbacks/callback-deliverer.js';
export type { CallbackOptions, CallbackAttemptReport } from '../callbacks/callback-deliverer.js';
export { StartupError } from '../startup-error.js';
