/**
 * What every scale-out client shares, outside any one command: the Redis URL (flag, else
 * $ANYMC3D_REDIS_URL), its BullMQ connection options, the reachability check that turns an
 * unreachable Redis into one line instead of endless retries, and the one way jobs are run and
 * re-submitted. The jobs themselves live with their commands (`anymc3d` case jobs, the heatmap
 * server's analyses).
 */
export { checkRedis, type RedisConnection, redisOptions, redisUrl } from './connection.js';
export { jobStillStanding, type QueueWorkerOptions, startQueueWorker } from './queue-worker.js';
