import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Access } from './app-context.js';
import type { Role } from './config.js';
import { HttpError } from './http-util.js';

/** Bearer token → role, compared in constant time over hashes (no early exit on a prefix). */
export function roleOf(req: IncomingMessage, tokens: Map<string, Role>): Role | null {
  const header = req.headers.authorization ?? '';
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) return null;
  const given = createHash('sha256')
    .update(match[1] as string)
    .digest();
  let role: Role | null = null;
  for (const [token, r] of tokens) {
    if (timingSafeEqual(given, createHash('sha256').update(token).digest())) role = r;
  }
  return role;
}

export function authorize(access: Access, role: Role | null): void {
  if (access === 'public') return;
  if (!role) throw new HttpError(401, 'unauthorized', 'send Authorization: Bearer <token>');
  if (access === 'admin' && role !== 'admin') throw new HttpError(403, 'forbidden', 'this needs an admin token');
}

/**
 * CORS for an explicit allow-list: an origin on the list gets itself echoed back (never `*`),
 * any other origin gets no allow header at all and the browser blocks the read.
 */
export function applyCors(req: IncomingMessage, res: ServerResponse, allowed: string[]): boolean {
  const origin = req.headers.origin;
  res.setHeader('Vary', 'Origin');
  if (!origin || !allowed.includes(origin)) return false;
  res.setHeader('Access-Control-Allow-Origin', origin);
  res.setHeader('Access-Control-Expose-Headers', 'Content-Length, Content-Disposition, ETag, Location');
  return true;
}

export function answerPreflight(res: ServerResponse, allowedOrigin: boolean): void {
  if (allowedOrigin) {
    res.setHeader('Access-Control-Allow-Methods', 'GET, HEAD, POST, OPTIONS');
    res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type');
    res.setHeader('Access-Control-Max-Age', '600');
  }
  res.writeHead(204);
  res.end();
}
