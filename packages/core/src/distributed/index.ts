/**
 * What every scale-out client shares, outside any one command: the Redis URL (flag, else
 * $ANYMC3D_REDIS_URL), its BullMQ connection options, and the reachability check that turns an
 * unreachable Redis into one line instead of endless retries. The jobs live with their commands
 * (`anymc3d` case jobs, the heatmap server's analyses).
 */
export { checkRedis, type RedisConnection, redisOptions, redisUrl } from './connection.js';
