/** What tests of this package and the cross-package tests share: a real redis-server on a loopback port. */
export { startRedis } from './redis-server.js';
