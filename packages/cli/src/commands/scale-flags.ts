import { redisUrl } from '@anymc3d/core/distributed';
import { InputError } from '@anymc3d/core/util';
import type { Argv } from 'yargs';
import { casePart } from '../queue/jobs.js';

/** How features and predict spread over machines: Redis workers, or nnU-Net-style parts. */
export interface ScaleFlags {
  redis?: string;
  'num-parts': number;
  'part-id': number;
}

export function scaleFlags<T>(y: Argv<T>) {
  return y
    .option('redis', {
      type: 'string',
      describe:
        'Send one job per case to `anymc3d worker`s through this Redis (default $ANYMC3D_REDIS_URL; absent: this process does the work). Outputs are the same as a local run; resubmitting skips finished jobs',
    })
    .option('num-parts', {
      type: 'number',
      default: 1,
      describe: 'Split the cases into N parts (every N-th case of the list sorted by id), for job arrays without Redis',
    })
    .option('part-id', { type: 'number', default: 0, describe: 'Which part this run does (0 … N−1)' });
}

/** The cases this run does, and the Redis URL if the work goes to workers. */
export function scaledCases<T extends { id: string }>(
  cases: readonly T[],
  a: ScaleFlags,
): { cases: T[]; redis?: string } {
  const parts = a['num-parts'];
  const part = a['part-id'];
  if (!(Number.isInteger(parts) && parts >= 1))
    throw new InputError('--num-parts', `must be a whole number ≥ 1, got ${parts}`);
  if (!(Number.isInteger(part) && part >= 0 && part < parts))
    throw new InputError('--part-id', `must be a whole number in 0 … ${parts - 1}, got ${part}`);
  const url = redisUrl(a.redis);
  return { cases: parts === 1 ? [...cases] : casePart(cases, parts, part), ...(url ? { redis: url } : {}) };
}
