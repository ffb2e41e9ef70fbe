import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Access } from './app-context.js';
import type { User } from './config.js';
import { HttpError } from './http-util.js';

/** Bearer token → its user, compared in constant time over hashes (no early exit on a prefix). */
export function userOf(req: IncomingMessage, tokens: Map<string, User>): User | null {
  const header = req.headers.authorization ?? '';
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) return null;
  const given = createHash('sha256')
    .update(match[1] as string)
    .digest();
  let user: User | null = null;
  for (const [token, u] of tokens) {
    if (timingSafeEqual(given, createHash('sha256').update(token).digest())) user = u;
  }
  return user;
}

/**
 * Repeated failed authentications from one address are slowed: after `limit` 401s within
 * `windowMs`, that address gets 429 (with Retry-After) until the window has passed, whatever
 * token it sends, so guessing tokens costs time.
 */
export class AuthThrottle {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly limit = 10,
    private readonly windowMs = 60_000,
  ) {}

  /** Seconds to wait when this address is throttled now, else 0. */
  retryAfter(address: string, now = Date.now()): number {
    const recent = this.recent(address, now);
    if (recent.length < this.limit) return 0;
    return Math.max(1, Math.ceil((recent[0]! + this.windowMs - now) / 1000));
  }

  fail(address: string, now = Date.now()): void {
    const recent = this.recent(address, now);
    recent.push(now);
    this.failures.set(address, recent);
    // Bounded memory: forget the oldest addresses when many fail at once.
    if (this.failures.size > 10_000) this.failures.delete(this.failures.keys().next().value as string);
  }

  private recent(address: string, now: number): number[] {
    return (this.failures.get(address) ?? []).filter((t) => now - t < this.windowMs);
  }
}

export function authorize(access: Access, user: User | null): void {
  if (access === 'public') return;
  const role = user?.role;
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
