import { buildGradientGraph, type Graph, gradName, OnnxSession, type Tensor, tensor, toOnnx } from '../graph/index.js';
import { Random } from '../util/random.js';

export interface GradCheckResult {
  analytic: number;
  numeric: number;
  relError: number;
}

/**
 * Compares the differentiator's gradients with central finite differences along one random unit
 * direction per parameter: ∇f·v against the five-point difference quotient of f(θ+tv).
 */
export async function checkGradients(
  graph: Graph,
  loss: string,
  feeds: Record<string, Tensor>,
  wrt: readonly string[],
  options: { step: number; seed?: number },
): Promise<Map<string, GradCheckResult>> {
  const grad = buildGradientGraph(graph, { loss, wrt });
  const gradSession = await OnnxSession.create(toOnnx(grad), { threads: 1, memoryPattern: false });
  const fwdSession = await OnnxSession.create(toOnnx(graph), { threads: 1 });
  const grads = await gradSession.run(feeds);
  const f = async (override: Record<string, Tensor>) => {
    const out = await fwdSession.run({ ...feeds, ...override }, [loss]);
    return Number(out[loss]!.data[0]);
  };
  const results = new Map<string, GradCheckResult>();
  for (const name of wrt) {
    const base = feeds[name]!;
    const rand = Random.fromString(options.seed ?? 1, name);
    const dir = Float64Array.from({ length: base.data.length }, () => rand.normal());
    // A unit direction, so `step` is the length of the perturbation whatever the tensor's size.
    const norm = Math.hypot(...dir);
    for (let i = 0; i < dir.length; i++) dir[i] = dir[i]! / norm;
    const g = grads[gradName(name)]!.data as Float32Array | Float64Array;
    let analytic = 0;
    for (let i = 0; i < dir.length; i++) analytic += g[i]! * dir[i]!;
    const shifted = (t: number) => {
      const src = base.data as Float32Array | Float64Array;
      const data = new (src.constructor as Float64ArrayConstructor)(src.length);
      for (let i = 0; i < src.length; i++) data[i] = src[i]! + t * dir[i]!;
      return tensor(base.dtype, base.dims, data);
    };
    // Five-point stencil: truncation O(h⁴), so h can be large enough to swamp float32 rounding.
    const h = options.step;
    const at = async (t: number) => f({ [name]: shifted(t) });
    const numeric = (8 * ((await at(h)) - (await at(-h))) - ((await at(2 * h)) - (await at(-2 * h)))) / (12 * h);
    const relError = Math.abs(analytic - numeric) / Math.max(Math.abs(analytic), Math.abs(numeric), 1e-12);
    results.set(name, { analytic, numeric, relError });
  }
  await gradSession.release();
  await fwdSession.release();
  return results;
}
