import { randomBytes } from 'node:crypto';

const ID = /^[0-9a-f]{24}$/;

/** A server-made id (96 random bits, hex): the only thing from a URL that ever names a folder. */
export function newId(): string {
  return randomBytes(12).toString('hex');
}

export function isId(value: string): boolean {
  return ID.test(value);
}
