import { realpath, stat } from 'node:fs/promises';
import { isAbsolute, resolve, sep } from 'node:path';
import { isInputError } from '@anymc3d/core/util';
import type { AppContext, RequestContext, Route } from './app-context.js';
import { HttpError, notFound, readJson, sendJson } from './http-util.js';

export const pluginRoutes: Route[] = [
  {
    method: 'GET',
    pattern: '/v1/plugins',
    access: 'reviewer',
    handle: (app, { res }) => sendJson(res, 200, { backbone: app.config.backbone, plugins: app.analyzer.plugins }),
  },
  { method: 'POST', pattern: '/v1/plugins', access: 'admin', handle: loadPlugin },
];

/**
 * Loads a plugin folder into the running analyzer. The folder must lie under one of the
 * configured plugin roots (after resolving links), so a token cannot reach any other path.
 */
async function loadPlugin(app: AppContext, { req, res }: RequestContext): Promise<void> {
  const body = await readJson(req);
  const path = (body as { path?: unknown } | null)?.path;
  if (typeof path !== 'string' || !path) throw new HttpError(422, 'bad_request', 'give {"path": "<plugin folder>"}');
  const dir = await resolveUnderRoots(app.config.pluginRoots, path);
  if (!dir) throw notFound('no plugin folder at that path under the plugin roots');
  try {
    const plugin = await app.analyzer.loadPlugin(dir);
    app.store.rememberPlugin(dir);
    app.log(`loaded plugin ${plugin.id} from ${dir}`);
    sendJson(res, 201, { plugin });
  } catch (error) {
    if (isInputError(error)) throw new HttpError(422, 'plugin_refused', error.message);
    throw error;
  }
}

export async function resolveUnderRoots(roots: string[], path: string): Promise<string | null> {
  for (const root of roots) {
    const realRoot = await realpath(root).catch(() => null);
    if (!realRoot) continue;
    const candidate = isAbsolute(path) ? path : resolve(realRoot, path);
    const real = await realpath(candidate).catch(() => null);
    if (!real || !(real === realRoot || real.startsWith(realRoot + sep))) continue;
    if ((await stat(real)).isDirectory()) return real;
  }
  return null;
}
