/**
 * The scale-out layer on Redis with BullMQ: the connection check every client does first, the case
 * jobs of `anymc3d features|predict --redis`, and the worker that runs them (the connection check
 * is core's, shared with the heatmap server's `--redis` mode).
 */
export { CASE_QUEUE, type CaseJob, type CaseJobResult, caseJobId, casePart } from './jobs.js';
export { runCaseJobs } from './submit.js';
export { type CaseWorkerOptions, startCaseWorker } from './worker.js';
