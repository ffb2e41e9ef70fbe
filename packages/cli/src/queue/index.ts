/**
 * The scale-out layer on Redis with BullMQ: the connection check every client does first, the case
 * jobs of `anymc3d features|predict --redis`, and the worker that runs them. The heatmap server's
 * `--redis` mode uses the same connection check.
 */
export { CASE_QUEUE, checkRedis, redisOptions, redisUrl } from './connection.js';
export { type CaseJob, type CaseJobResult, caseJobId, casePart } from './jobs.js';
export { runCaseJobs } from './submit.js';
export { type CaseWorkerOptions, startCaseWorker } from './worker.js';
