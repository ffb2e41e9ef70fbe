import { readFileSync } from 'node:fs';

/** The installed @anymc3d/core version, read from its package.json (written into provenance). */
export const CORE_VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
