import { type Graph, GraphBuilder, type Value } from './builder.js';
import { GradContext, type GradRule } from './grad-rules/context.js';
import { ELEMENTWISE_RULES } from './grad-rules/elementwise.js';
import { LINALG_RULES } from './grad-rules/linalg.js';
import { NN_RULES } from './grad-rules/nn.js';
import { SHAPE_RULES } from './grad-rules/shape-ops.js';
import { isFloat, tensor } from './tensor.js';

const RULES: Record<string, GradRule> = { ...ELEMENTWISE_RULES, ...SHAPE_RULES, ...LINALG_RULES, ...NN_RULES };

/** Ops the differentiator knows. */
export const DIFFERENTIABLE_OPS: readonly string[] = Object.keys(RULES).sort();

export interface GradientSpec {
  /** A scalar output of the forward graph to differentiate (seeded with 1). */
  loss?: string;
  /**
   * Vector–Jacobian form instead: these forward values get their upstream gradients as extra graph
   * inputs named `seed.<value>` (chunked recompute feeds the pooled gradient back this way).
   */
  seeds?: readonly string[];
  /** Trainable params (or float graph inputs) to differentiate with respect to. */
  wrt: readonly string[];
  /** Forward values to output as well (default: the loss when there is one). */
  keep?: readonly string[];
}

export const gradName = (param: string): string => `grad.${param}`;
export const seedName = (value: string): string => `seed.${value}`;

/**
 * Reverse-mode differentiation over the graph IR. The result is a new graph holding the forward
 * and the backward as plain ONNX ops (the inference build of ONNX Runtime has no training ops);
 * its outputs are the kept forward values, then `grad.<name>` for each of `wrt`. Only values that
 * both depend on `wrt` and reach the loss get gradient work, so frozen weights cost nothing.
 */
export function buildGradientGraph(graph: Graph, spec: GradientSpec): Graph {
  const targets = spec.loss ? [spec.loss] : [...(spec.seeds ?? [])];
  if (!targets.length) throw new Error('buildGradientGraph: give a loss or seeds');
  for (const name of [...targets, ...spec.wrt]) {
    if (!graph.values.has(name)) throw new Error(`buildGradientGraph: graph ${graph.name} has no value "${name}"`);
  }
  const dependsOnWrt = new Set(spec.wrt);
  for (const node of graph.nodes) {
    if (node.inputs.some((i) => dependsOnWrt.has(i))) {
      for (const o of node.outputs) if (isFloat(graph.values.get(o)!.dtype)) dependsOnWrt.add(o);
    }
  }
  const reachesTarget = new Set(targets);
  for (let k = graph.nodes.length - 1; k >= 0; k--) {
    const node = graph.nodes[k]!;
    if (node.outputs.some((o) => reachesTarget.has(o))) for (const i of node.inputs) if (i) reachesTarget.add(i);
  }
  const requires = (name: string) => dependsOnWrt.has(name) && reachesTarget.has(name);

  const g = GraphBuilder.extend(graph, `${graph.name}.grad`);
  const ctx = new GradContext(g, requires);
  const grads = new Map<string, Value[]>();
  const push = (name: string, v: Value) => {
    const list = grads.get(name);
    if (list) list.push(v);
    else grads.set(name, [v]);
  };
  const total = (name: string): Value | undefined => {
    const list = grads.get(name);
    if (!list?.length) return undefined;
    const sum = list.length === 1 ? list[0]! : g.op('Sum', list);
    grads.set(name, [sum]);
    return sum;
  };

  if (spec.loss) {
    const loss = graph.values.get(spec.loss)!;
    if (!loss.shape.every((d) => d === 1)) throw new Error(`buildGradientGraph: loss "${spec.loss}" is not a scalar`);
    push(spec.loss, g.constant(tensor(loss.dtype, loss.shape as number[], [1]), 'seed'));
  } else {
    for (const name of spec.seeds ?? []) {
      const v = graph.values.get(name)!;
      push(name, g.input(seedName(name), v.dtype, v.shape));
    }
  }

  for (let k = graph.nodes.length - 1; k >= 0; k--) {
    const node = graph.nodes[k]!;
    if (!node.outputs.some(requires) || !node.inputs.some((i) => i && requires(i))) continue;
    const dOut = node.outputs.map(total);
    if (dOut.every((d) => !d)) continue;
    const rule = RULES[node.op];
    if (!rule || node.domain !== '') {
      throw new Error(
        `buildGradientGraph: no gradient rule for ${node.domain ? `${node.domain}.` : ''}${node.op} (${node.name})`,
      );
    }
    const dIn = rule(ctx, node, dOut);
    node.inputs.forEach((name, i) => {
      const d = dIn[i];
      if (d && name && requires(name)) push(name, d);
    });
  }

  for (const name of spec.keep ?? (spec.loss ? [spec.loss] : [])) g.output(g.value(name), `out.${name}`);
  for (const name of spec.wrt) {
    const d = total(name) ?? ctx.zeros(g.value(name));
    g.output(d, gradName(name));
  }
  return pruneGraph(g.build());
}

/** Drops nodes, constants and frozen params that no output depends on. */
export function pruneGraph(graph: Graph): Graph {
  const live = new Set(graph.outputs.map((o) => o.name));
  const nodes = [];
  for (let k = graph.nodes.length - 1; k >= 0; k--) {
    const node = graph.nodes[k]!;
    if (!node.outputs.some((o) => live.has(o))) continue;
    nodes.push(node);
    for (const i of node.inputs) if (i) live.add(i);
  }
  nodes.reverse();
  const params = new Map([...graph.params].filter(([name, p]) => p.role === 'trainable' || live.has(name)));
  const constants = new Map([...graph.constants].filter(([name]) => live.has(name)));
  return { ...graph, nodes, params, constants };
}
