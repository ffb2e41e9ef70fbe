export { buildCli, runCli } from './cli.js';
export { CLI_VERSION } from './version.js';
