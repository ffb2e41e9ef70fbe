import { type Graph, type Node, OnnxSession, type Tensor, tensor, toOnnx } from '@anymc3d/core/graph';

/**
 * The "calibrated static" alternative #20 P1 names, for the bench to measure against core's dynamic
 * int8 (`quantizeDynamicInt8`): each weight MatMul's activation gets a fixed per-tensor uint8 scale
 * and zero point, read from a calibration batch, instead of a range measured on every run. The
 * dynamic graph's chain
 *   DynamicQuantizeLinear(x) → MatMulInteger(x_q, W_q, x_zp) → Cast → Mul(x_scale · w_scale) [→ Add(bias)]
 * becomes
 *   QuantizeLinear(x, scale, zp) → com.microsoft MatMulIntegerToFloat(x_q, W_q, scale, w_scale, zp, —, bias)
 * (the bias folded in, as ONNX Runtime folds it into DynamicQuantizeMatMul). Not a product path.
 */

/** Per DynamicQuantizeLinear node: the scale and zero point it chose on the calibration batch. */
export type ActivationRanges = ReadonlyMap<string, { scale: number; zeroPoint: number }>;

/** Runs the dynamic int8 graph once on `feeds` with every activation's scale and zero point exposed. */
export async function calibrateActivations(
  dynamicInt8: Graph,
  feeds: Record<string, Tensor>,
  threads: number,
): Promise<ActivationRanges> {
  const quantizers = dynamicInt8.nodes.filter((n) => n.op === 'DynamicQuantizeLinear');
  const exposed = quantizers.flatMap((n) =>
    [n.outputs[1]!, n.outputs[2]!].map((name) => dynamicInt8.values.get(name)!),
  );
  const session = await OnnxSession.create(toOnnx({ ...dynamicInt8, outputs: [...dynamicInt8.outputs, ...exposed] }), {
    threads,
  });
  try {
    const out = await session.run(feeds);
    return new Map(
      quantizers.map((n) => [
        n.name,
        { scale: out[n.outputs[1]!]!.data[0] as number, zeroPoint: out[n.outputs[2]!]!.data[0] as number },
      ]),
    );
  } finally {
    await session.release();
  }
}

function onlyConsumer(consumers: ReadonlyMap<string, Node[]>, value: string, op: string): Node | undefined {
  const readers = consumers.get(value) ?? [];
  return readers.length === 1 && readers[0]!.op === op ? readers[0] : undefined;
}

export function withStaticActivations(
  dynamicInt8: Graph,
  ranges: ActivationRanges,
): { graph: Graph; converted: number } {
  const consumers = new Map<string, Node[]>();
  for (const node of dynamicInt8.nodes)
    for (const input of node.inputs) consumers.set(input, [...(consumers.get(input) ?? []), node]);
  const isVector = (name: string) =>
    (dynamicInt8.params.get(name)?.value.dims ?? dynamicInt8.constants.get(name)?.dims)?.length === 1;
  const constants = new Map(dynamicInt8.constants);
  const replaced = new Map<Node, Node | null>();
  let converted = 0;
  for (const quantize of dynamicInt8.nodes.filter((n) => n.op === 'DynamicQuantizeLinear')) {
    const [codes, scale, zeroPoint] = quantize.outputs as [string, string, string];
    const range = ranges.get(quantize.name);
    if (!range) throw new Error(`static int8: no calibrated range for ${quantize.name}`);
    const matmul = onlyConsumer(consumers, codes, 'MatMulInteger');
    const scales = onlyConsumer(consumers, scale, 'Mul');
    const cast = matmul && onlyConsumer(consumers, matmul.outputs[0]!, 'Cast');
    const dequantize = cast && onlyConsumer(consumers, cast.outputs[0]!, 'Mul');
    if (!matmul || !scales || !cast || !dequantize)
      throw new Error(
        `static int8: ${quantize.name} does not start a weight MatMul chain (attention MatMuls stay float)`,
      );
    const add = onlyConsumer(consumers, dequantize.outputs[0]!, 'Add');
    const bias = add?.inputs.find((name) => name !== dequantize.outputs[0] && isVector(name));
    constants.set(scale, tensor('float32', [], new Float32Array([range.scale])));
    constants.set(zeroPoint, tensor('uint8', [], new Uint8Array([range.zeroPoint])));
    replaced.set(quantize, {
      name: `${quantize.name}.static`,
      op: 'QuantizeLinear',
      domain: '',
      inputs: [quantize.inputs[0]!, scale, zeroPoint],
      outputs: [codes],
      attrs: {},
    });
    const weight = matmul.inputs[1]!;
    const weightScale = scales.inputs.find((name) => name !== scale)!;
    replaced.set(matmul, {
      name: `${matmul.name}.to_float`,
      op: 'MatMulIntegerToFloat',
      domain: 'com.microsoft',
      inputs: [codes, weight, scale, weightScale, zeroPoint, ...(bias ? ['', bias] : [])],
      outputs: bias ? add!.outputs : dequantize.outputs,
      attrs: {},
    });
    converted++;
    for (const gone of [scales, cast, dequantize, ...(bias ? [add!] : [])]) replaced.set(gone, null);
  }
  const nodes = dynamicInt8.nodes.flatMap((n) => {
    const r = replaced.get(n);
    return r === undefined ? [n] : r === null ? [] : [r];
  });
  // The dropped chain's intermediate values stay declared; nothing reads or writes them.
  return { graph: { ...dynamicInt8, nodes, constants }, converted };
}
