import { readPackageJson } from './runtime/single-executable.js';

/** offload's version, from its package.json (embedded in the single executable). */
export const VERSION: string = readPackageJson().version;
