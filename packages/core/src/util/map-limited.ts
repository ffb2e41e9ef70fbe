/**
 * Runs `task` over items, at most `limit` at a time, keeping order: for many small awaits (file
 * checks, Redis lookups) that would take one round trip each in a plain loop.
 */
export async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = [];
  for (let k = 0; k < items.length; k += limit) {
    out.push(...(await Promise.all(items.slice(k, k + limit).map(task))));
  }
  return out;
}
