import type { Attributes } from './attributes.js';
import { type InputInfo, inferOutputs, type OutputInfo } from './shapes.js';
import { type DType, type Shape, type Tensor, tensor } from './tensor.js';

/** A named value in a graph: a graph input, a parameter, a constant or a node output. */
export interface Value {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: Shape;
}

export interface Node {
  readonly name: string;
  readonly op: string;
  /** '' (the default ONNX domain) or e.g. 'com.microsoft'. */
  readonly domain: string;
  /** Input value names; '' marks an omitted optional input. */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs: Attributes;
}

export type ParamRole = 'frozen' | 'trainable';

export interface Param {
  readonly name: string;
  readonly value: Tensor;
  readonly role: ParamRole;
  /** Optimiser group (e.g. 'lora', 'head'); only meaningful for trainable params. */
  readonly group?: string;
}

/**
 * A built graph. Frozen params become ONNX initializers; trainable params become graph inputs
 * (so one exported backbone serves every task, and a training graph receives the current
 * weights each step), with `value` as their initial value.
 */
export interface Graph {
  readonly name: string;
  readonly inputs: readonly Value[];
  readonly outputs: readonly Value[];
  readonly nodes: readonly Node[];
  readonly params: ReadonlyMap<string, Param>;
  readonly constants: ReadonlyMap<string, Tensor>;
  readonly values: ReadonlyMap<string, Value>;
}

export interface OpOptions {
  domain?: string;
  /** Output types/shapes for ops that have no inference rule (or to override one). */
  outputs?: OutputInfo[];
  /** How many outputs to create; defaults to what inference gives, or 1. */
  count?: number;
  name?: string;
}

/**
 * Builds a graph op by op with shapes inferred at each step, so mistakes surface where they are
 * made (not as an ONNX Runtime load error) and the differentiator knows every shape statically.
 */
export class GraphBuilder {
  readonly name: string;
  private readonly inputList: Value[] = [];
  private readonly outputList: Value[] = [];
  private readonly nodeList: Node[] = [];
  private readonly paramMap = new Map<string, Param>();
  private readonly constantMap = new Map<string, Tensor>();
  private readonly valueMap = new Map<string, Value>();
  private readonly scopes: string[] = [];
  private counter = 0;

  constructor(name: string) {
    this.name = name;
  }

  /**
   * A builder that continues `graph`: same inputs, params, constants and nodes, no outputs yet
   * (the differentiator appends a backward pass to a forward graph this way).
   */
  static extend(graph: Graph, name = graph.name): GraphBuilder {
    const b = new GraphBuilder(name);
    b.inputList.push(...graph.inputs);
    b.nodeList.push(...graph.nodes);
    for (const [k, v] of graph.params) b.paramMap.set(k, v);
    for (const [k, v] of graph.constants) b.constantMap.set(k, v);
    for (const [k, v] of graph.values) b.valueMap.set(k, v);
    b.counter = graph.nodes.length + graph.constants.size;
    return b;
  }

  /** Prefixes names created inside `fn` with `prefix.` (e.g. 'blocks.3'). */
  scope<T>(prefix: string, fn: () => T): T {
    this.scopes.push(prefix);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  private qualify(name: string): string {
    return this.scopes.length ? `${this.scopes.join('.')}.${name}` : name;
  }

  private fresh(hint: string): string {
    let name = this.qualify(`${hint}_${this.counter++}`);
    while (this.valueMap.has(name)) name = this.qualify(`${hint}_${this.counter++}`);
    return name;
  }

  private register(value: Value): Value {
    if (this.valueMap.has(value.name)) throw new Error(`graph ${this.name}: value "${value.name}" defined twice`);
    this.valueMap.set(value.name, value);
    return value;
  }

  value(name: string): Value {
    const v = this.valueMap.get(name);
    if (!v) throw new Error(`graph ${this.name}: no value named "${name}"`);
    return v;
  }

  input(name: string, dtype: DType, shape: Shape): Value {
    const v = this.register({ name, dtype, shape: [...shape] });
    this.inputList.push(v);
    return v;
  }

  /** A weight: frozen (an initializer) or trainable (a graph input carrying its initial value). */
  param(name: string, value: Tensor, options: { role?: ParamRole; group?: string; scoped?: boolean } = {}): Value {
    const full = options.scoped === false ? name : this.qualify(name);
    const role = options.role ?? 'frozen';
    const v = this.register({ name: full, dtype: value.dtype, shape: [...value.dims] });
    this.paramMap.set(full, { name: full, value, role, ...(options.group ? { group: options.group } : {}) });
    return v;
  }

  /** A constant tensor (an initializer that is never a parameter). */
  constant(value: Tensor, hint = 'const'): Value {
    const v = this.register({ name: this.fresh(hint), dtype: value.dtype, shape: [...value.dims] });
    this.constantMap.set(v.name, value);
    return v;
  }

  scalar(x: number, dtype: DType = 'float32'): Value {
    return this.constant(tensor(dtype, [], [x]), 'scalar');
  }

  ints(values: readonly number[]): Value {
    return this.constant(tensor('int64', [values.length], values), 'ints');
  }

  /** The constant or parameter value behind `v`, if it has one. */
  constantValue(v: Value): Tensor | undefined {
    return this.constantMap.get(v.name) ?? this.paramMap.get(v.name)?.value;
  }

  op(op: string, inputs: readonly (Value | null)[], attrs: Attributes = {}, options: OpOptions = {}): Value {
    const outs = this.opMulti(op, inputs, attrs, options);
    return outs[0]!;
  }

  opMulti(op: string, inputs: readonly (Value | null)[], attrs: Attributes = {}, options: OpOptions = {}): Value[] {
    const infos: InputInfo[] = inputs.map((v) => {
      if (!v) return { dtype: 'float32', shape: [] };
      if (!this.valueMap.has(v.name)) throw new Error(`graph ${this.name}: ${op} uses unknown value "${v.name}"`);
      const value = this.constantValue(v);
      return value ? { dtype: v.dtype, shape: v.shape, value } : { dtype: v.dtype, shape: v.shape };
    });
    let outputs: OutputInfo[] | undefined = options.outputs;
    if (!outputs) {
      try {
        outputs = inferOutputs(op, infos, attrs);
      } catch (error) {
        const detail = error instanceof Error ? error.message : String(error);
        throw new Error(`graph ${this.name}: ${op} (${inputs.map((v) => v?.name ?? '∅').join(', ')}): ${detail}`);
      }
    }
    if (!outputs) throw new Error(`graph ${this.name}: no shape rule for ${op}; pass options.outputs`);
    if (options.count !== undefined) outputs = outputs.slice(0, options.count);
    const nodeName = options.name ? this.qualify(options.name) : this.fresh(op);
    const values = outputs.map((o, k) =>
      this.register({
        name: outputs.length === 1 ? `${nodeName}:out` : `${nodeName}:out${k}`,
        dtype: o.dtype,
        shape: o.shape,
      }),
    );
    this.nodeList.push({
      name: nodeName,
      op,
      domain: options.domain ?? '',
      inputs: inputs.map((v) => v?.name ?? ''),
      outputs: values.map((v) => v.name),
      attrs,
    });
    return values;
  }

  output(value: Value, name?: string): Value {
    if (name && name !== value.name) {
      const renamed = this.op('Identity', [value], {}, { name });
      // Graph outputs get the exact public name (e.g. 'cls'), not a node-derived one.
      const out = { ...renamed, name };
      this.valueMap.delete(renamed.name);
      this.valueMap.set(name, out);
      const node = this.nodeList[this.nodeList.length - 1]!;
      this.nodeList[this.nodeList.length - 1] = { ...node, outputs: [name] };
      this.outputList.push(out);
      return out;
    }
    this.outputList.push(value);
    return value;
  }

  build(): Graph {
    return {
      name: this.name,
      inputs: [...this.inputList],
      outputs: [...this.outputList],
      nodes: [...this.nodeList],
      params: new Map(this.paramMap),
      constants: new Map(this.constantMap),
      values: new Map(this.valueMap),
    };
  }
}
