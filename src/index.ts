// `offload`: the embeddable API — the whole composition, the generic engine and its store, and the Koa app.
// The same names are split by layer in `offload/app`, `offload/engine` and `offload/types`.
export * from './entries/app.js';
export * from './entries/engine.js';
