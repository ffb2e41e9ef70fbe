import type { Route } from './app-context.js';

export interface Match {
  route: Route;
  params: Record<string, string>;
}

/** Matches decoded path segments against route patterns; a `:name.ext` segment must end in `.ext`. */
export function matchRoute(routes: readonly Route[], method: string, segments: string[]): Match | 'method' | null {
  let pathMatched = false;
  for (const route of routes) {
    const params = matchPattern(route.pattern, segments);
    if (!params) continue;
    if (route.method === method || (method === 'HEAD' && route.method === 'GET')) return { route, params };
    pathMatched = true;
  }
  return pathMatched ? 'method' : null;
}

function matchPattern(pattern: string, segments: string[]): Record<string, string> | null {
  const parts = pattern.split('/').slice(1);
  if (parts.length !== segments.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string;
    const segment = segments[i] as string;
    if (!part.startsWith(':')) {
      if (part !== segment) return null;
      continue;
    }
    const dot = part.indexOf('.');
    if (dot < 0) {
      if (!segment) return null;
      params[part.slice(1)] = segment;
      continue;
    }
    const ext = part.slice(dot);
    if (!segment.endsWith(ext) || segment.length === ext.length) return null;
    params[part.slice(1, dot)] = segment.slice(0, -ext.length);
  }
  return params;
}
