#!/usr/bin/env node
// The command line: the only reader of process.argv and process.env.
import { ConfigError, formatHelp, parseConfig } from './config.js';
import { createLogger } from './logger.js';
import { AssetCacheError } from './runtime/asset-cache.js';
import { checkJobModules } from './runtime/job-module-check.js';
import { isSingleExecutable, prepareSingleExecutable, singleExecutableHelp } from './runtime/single-executable.js';
import { startServer } from './server.js';
import { StartupError } from './startup-error.js';
import { VERSION } from './version.js';

/** Stacks are for developers: shown with a failure to start only at --log-level debug or trace. */
let showStacks = false;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(formatHelp() + singleExecutableHelp());
    return command === undefined ? 2 : 0;
  }
  if (command === '--version' || command === '-v' || command === 'version') {
    process.stdout.write(`offload ${VERSION} (node ${process.version}${isSingleExecutable() ? ', single executable' : ''})\n`);
    return 0;
  }
  if (command !== 'serve') {
    process.stderr.write(`offload: unknown command "${command}"\n\n${formatHelp()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(formatHelp() + singleExecutableHelp());
    return 0;
  }

  let config;
  try {
    config = parseConfig(rest, process.env);
    showStacks = config.logLevel === 'debug' || config.logLevel === 'trace';
    await checkJobModules(config.jobs);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`offload: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  let assetDir;
  try {
    // Inside the single executable: its worker bundles and SQLite addon must be files before the engine starts.
    assetDir = prepareSingleExecutable(process.env);
  } catch (err) {
    if (err instanceof AssetCacheError) {
      process.stderr.write(`offload: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const logger = createLogger({ level: config.logLevel });
  if (assetDir !== undefined) {
    logger.info({ cache_dir: assetDir, node_options: process.env.NODE_OPTIONS ?? null }, 'single executable: embedded files ready');
  }
  let running;
  try {
    running = await startServer(config, logger);
  } catch (err) {
    if (!(err instanceof StartupError)) throw err;
    process.stderr.write(`offload: ${err.message}\n${showStacks ? stackOf(err.cause ?? err) : ''}`);
    return 1;
  }

  let signals = 0;
  const stop = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      logger.warn({ signal }, 'second signal: exiting without waiting for running jobs');
      process.exit(130);
    }
    logger.info({ signal, grace_ms: config.shutdownGraceMs }, 'shutting down');
    running.close().then(
      () => process.exit(0),
      (err) => {
        logger.fatal({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return -1;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`offload: failed to start: ${err instanceof Error ? err.message : String(err)}\n${showStacks ? stackOf(err) : ''}`);
    process.exit(1);
  },
);

function stackOf(err: unknown): string {
  return err instanceof Error && err.stack ? `${err.stack}\n` : '';
}
