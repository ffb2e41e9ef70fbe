import { InputError } from '@anymc3d/core';
import type { Tensor } from '@anymc3d/core/graph';
import { halfToFloat } from '@anymc3d/core/io';
import { unzipSync } from 'fflate';

/**
 * The tensors of a PyTorch checkpoint (`torch.save` zip format: `<name>/data.pkl` + one file per
 * storage under `<name>/data/`), read without running it. A pickle is a program; this machine
 * executes only the opcodes a state dict needs and only these callables — OrderedDict, the tensor
 * and parameter rebuilders, the storage type names — so a checkpoint that asks for anything else
 * (os.system, eval, …) is refused by name instead of being run.
 */

type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | PyValue[]
  | { kind: 'tuple'; items: PyValue[] }
  | { kind: 'dict'; entries: Map<PyValue, PyValue> }
  | { kind: 'global'; name: string }
  | { kind: 'storage'; dtype: string; key: string; numel: number }
  | { kind: 'tensor'; tensor: Tensor }
  | { kind: 'mark' };

const ALLOWED_CALLS = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
]);

/** Storage classes → [bytes per element, how to widen to the tensor the loaders take]. */
const STORAGES: Record<string, { bytes: number; dtype: 'float32' | 'int64' }> = {
  FloatStorage: { bytes: 4, dtype: 'float32' },
  HalfStorage: { bytes: 2, dtype: 'float32' },
  BFloat16Storage: { bytes: 2, dtype: 'float32' },
  DoubleStorage: { bytes: 8, dtype: 'float32' },
  LongStorage: { bytes: 8, dtype: 'int64' },
};

const isTuple = (v: PyValue): v is { kind: 'tuple'; items: PyValue[] } =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && v.kind === 'tuple';

class Unpickler {
  private at = 0;
  private readonly stack: PyValue[] = [];
  private readonly memo = new Map<number, PyValue>();
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly source: string,
    private readonly storage: (dtype: string, key: string) => Uint8Array,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private fail(why: string): never {
    throw new InputError(this.source, `${why} (pickle byte ${this.at})`);
  }

  private need(n: number): number {
    if (this.at + n > this.bytes.length) this.fail('the pickle is truncated');
    const start = this.at;
    this.at += n;
    return start;
  }

  private u8 = () => this.bytes[this.need(1)]!;
  private u16 = () => this.view.getUint16(this.need(2), true);
  private i32 = () => this.view.getInt32(this.need(4), true);
  private u32 = () => this.view.getUint32(this.need(4), true);
  private text(n: number): string {
    const start = this.need(n);
    return new TextDecoder().decode(this.bytes.subarray(start, start + n));
  }
  private line(): string {
    const end = this.bytes.indexOf(0x0a, this.at);
    if (end < 0) this.fail('the pickle is truncated');
    const s = new TextDecoder().decode(this.bytes.subarray(this.at, end));
    this.at = end + 1;
    return s;
  }
  private pop(): PyValue {
    if (!this.stack.length) this.fail('the pickle pops an empty stack');
    return this.stack.pop()!;
  }
  private popMark(): PyValue[] {
    for (let k = this.stack.length - 1; k >= 0; k--) {
      const v = this.stack[k];
      if (typeof v === 'object' && v !== null && !Array.isArray(v) && v.kind === 'mark') {
        const items = this.stack.splice(k);
        return items.slice(1);
      }
    }
    return this.fail('the pickle has no MARK to close');
  }
  private top(): PyValue {
    if (!this.stack.length) this.fail('the pickle has an empty stack');
    return this.stack[this.stack.length - 1]!;
  }

  run(): PyValue {
    for (;;) {
      const op = this.u8();
      switch (op) {
        case 0x80: // PROTO
          this.u8();
          break;
        case 0x95: // FRAME
          this.need(8);
          break;
        case 0x2e: // STOP
          return this.pop();
        case 0x28: // MARK
          this.stack.push({ kind: 'mark' });
          break;
        case 0x7d: // EMPTY_DICT
          this.stack.push({ kind: 'dict', entries: new Map() });
          break;
        case 0x5d: // EMPTY_LIST
          this.stack.push([]);
          break;
        case 0x29: // EMPTY_TUPLE
          this.stack.push({ kind: 'tuple', items: [] });
          break;
        case 0x4e: // NONE
          this.stack.push(null);
          break;
        case 0x88: // NEWTRUE
          this.stack.push(true);
          break;
        case 0x89: // NEWFALSE
          this.stack.push(false);
          break;
        case 0x4b: // BININT1
          this.stack.push(this.u8());
          break;
        case 0x4d: // BININT2
          this.stack.push(this.u16());
          break;
        case 0x4a: // BININT
          this.stack.push(this.i32());
          break;
        case 0x8a: {
          // LONG1: little-endian two's complement
          const n = this.u8();
          const start = this.need(n);
          let v = 0n;
          for (let k = n - 1; k >= 0; k--) v = (v << 8n) | BigInt(this.bytes[start + k]!);
          if (n && this.bytes[start + n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
          this.stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
          break;
        }
        case 0x47: // BINFLOAT (big-endian)
          this.stack.push(this.view.getFloat64(this.need(8), false));
          break;
        case 0x58: // BINUNICODE
          this.stack.push(this.text(this.u32()));
          break;
        case 0x8c: // SHORT_BINUNICODE
          this.stack.push(this.text(this.u8()));
          break;
        case 0x55: // SHORT_BINSTRING
          this.stack.push(this.text(this.u8()));
          break;
        case 0x54: // BINSTRING
          this.stack.push(this.text(this.u32()));
          break;
        case 0x71: // BINPUT
          this.memo.set(this.u8(), this.top());
          break;
        case 0x72: // LONG_BINPUT
          this.memo.set(this.u32(), this.top());
          break;
        case 0x94: // MEMOIZE
          this.memo.set(this.memo.size, this.top());
          break;
        case 0x68: // BINGET
        case 0x6a: {
          // LONG_BINGET
          const k = op === 0x68 ? this.u8() : this.u32();
          if (!this.memo.has(k)) this.fail(`the pickle reads memo ${k}, never stored`);
          this.stack.push(this.memo.get(k)!);
          break;
        }
        case 0x74: // TUPLE
          this.stack.push({ kind: 'tuple', items: this.popMark() });
          break;
        case 0x85:
        case 0x86:
        case 0x87: {
          // TUPLE1..3
          const n = op - 0x84;
          const items: PyValue[] = [];
          for (let k = 0; k < n; k++) items.unshift(this.pop());
          this.stack.push({ kind: 'tuple', items });
          break;
        }
        case 0x61: {
          // APPEND
          const v = this.pop();
          const list = this.top();
          if (!Array.isArray(list)) this.fail('APPEND to something that is not a list');
          list.push(v);
          break;
        }
        case 0x65: {
          // APPENDS
          const items = this.popMark();
          const list = this.top();
          if (!Array.isArray(list)) this.fail('APPENDS to something that is not a list');
          list.push(...items);
          break;
        }
        case 0x73:
        case 0x75: {
          // SETITEM / SETITEMS
          const items = op === 0x73 ? [this.pop(), this.pop()].reverse() : this.popMark();
          const dict = this.top();
          if (typeof dict !== 'object' || dict === null || Array.isArray(dict) || dict.kind !== 'dict')
            this.fail('SETITEM on something that is not a dict');
          for (let k = 0; k + 1 < items.length; k += 2) dict.entries.set(items[k]!, items[k + 1]!);
          break;
        }
        case 0x63: {
          // GLOBAL
          const module = this.line();
          const name = this.line();
          this.stack.push({ kind: 'global', name: `${module}.${name}` });
          break;
        }
        case 0x93: {
          // STACK_GLOBAL
          const name = this.pop();
          const module = this.pop();
          this.stack.push({ kind: 'global', name: `${String(module)}.${String(name)}` });
          break;
        }
        case 0x51: // BINPERSID
          this.stack.push(this.persistent(this.pop()));
          break;
        case 0x52: {
          // REDUCE
          const args = this.pop();
          const callable = this.pop();
          this.stack.push(this.call(callable, isTuple(args) ? args.items : []));
          break;
        }
        case 0x81: {
          // NEWOBJ
          const args = this.pop();
          const cls = this.pop();
          this.stack.push(this.call(cls, isTuple(args) ? args.items : []));
          break;
        }
        case 0x62: // BUILD: state for an object (OrderedDict's _metadata); not needed for tensors
          this.pop();
          break;
        default:
          this.fail(`pickle opcode 0x${op.toString(16)} is not one a PyTorch state dict uses`);
      }
    }
  }

  private persistent(pid: PyValue): PyValue {
    // ('storage', storage_type, key, location, numel)
    if (!isTuple(pid) || pid.items[0] !== 'storage') this.fail('unknown persistent id');
    const [, type, key, , numel] = pid.items;
    const typeName =
      typeof type === 'object' && type && !Array.isArray(type) && type.kind === 'global' ? type.name : '';
    const short = typeName.replace(/^torch\./, '');
    if (!STORAGES[short]) this.fail(`storage type ${typeName || String(type)} is not supported`);
    return { kind: 'storage', dtype: short, key: String(key), numel: Number(numel) };
  }

  private call(callable: PyValue, args: PyValue[]): PyValue {
    const name =
      typeof callable === 'object' && callable && !Array.isArray(callable) && callable.kind === 'global'
        ? callable.name
        : '?';
    if (!ALLOWED_CALLS.has(name)) {
      this.fail(`the checkpoint calls ${name}, which a weights file has no reason to; refusing to run it`);
    }
    if (name === 'collections.OrderedDict') return { kind: 'dict', entries: new Map() };
    if (name === 'torch._utils._rebuild_parameter') return args[0] ?? null;
    return this.rebuildTensor(args);
  }

  private rebuildTensor(args: PyValue[]): PyValue {
    if (args.length < 4) this.fail('_rebuild_tensor_v2 called with fewer than 4 arguments');
    const [storage, offset, size, stride] = args as [PyValue, PyValue, PyValue, PyValue];
    if (typeof storage !== 'object' || storage === null || Array.isArray(storage) || storage.kind !== 'storage')
      this.fail('a tensor without a storage');
    const dims = isTuple(size) ? size.items.map(Number) : [];
    const strides = isTuple(stride) ? stride.items.map(Number) : [];
    const info = STORAGES[storage.dtype]!;
    const raw = this.storage(storage.dtype, storage.key);
    if (raw.length < storage.numel * info.bytes) {
      this.fail(`storage ${storage.key} holds ${raw.length} bytes, fewer than its ${storage.numel} elements need`);
    }
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const read = (i: number): number | bigint => {
      if (i >= storage.numel) this.fail(`a tensor reads past the end of storage ${storage.key}`);
      switch (storage.dtype) {
        case 'FloatStorage':
          return view.getFloat32(4 * i, true);
        case 'DoubleStorage':
          return view.getFloat64(8 * i, true);
        case 'HalfStorage':
          return halfToFloat(view.getUint16(2 * i, true));
        case 'BFloat16Storage':
          return new Float32Array(new Uint32Array([view.getUint16(2 * i, true) << 16]).buffer)[0]!;
        default:
          return view.getBigInt64(8 * i, true);
      }
    };
    const count = dims.reduce((a, b) => a * b, 1);
    const out = info.dtype === 'int64' ? new BigInt64Array(count) : new Float32Array(count);
    // Strided gather: views (transposes, slices of a shared storage) come out contiguous.
    const index = new Array<number>(dims.length).fill(0);
    for (let n = 0; n < count; n++) {
      let at = Number(offset);
      for (let k = 0; k < dims.length; k++) at += index[k]! * strides[k]!;
      (out as Float32Array | BigInt64Array)[n] = read(at) as never;
      for (let k = dims.length - 1; k >= 0; k--) {
        if (++index[k]! < dims[k]!) break;
        index[k] = 0;
      }
    }
    return { kind: 'tensor', tensor: { dtype: info.dtype, dims, data: out } as Tensor };
  }
}

/**
 * The named tensors of a `torch.save` zip checkpoint holding a state dict (or a dict with one
 * under `state_dict`/`model`). Non-tensor entries are skipped.
 */
export function readTorchCheckpoint(bytes: Uint8Array, source: string): Map<string, Tensor> {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes);
  } catch (error) {
    throw new InputError(
      source,
      `not a PyTorch zip checkpoint (${(error as Error).message}); checkpoints saved before PyTorch 1.6 are not supported`,
      { cause: error },
    );
  }
  const pkl = Object.keys(files).find((name) => /^[^/]+\/data\.pkl$/.test(name));
  if (!pkl) throw new InputError(source, 'no <name>/data.pkl inside: not a torch.save checkpoint');
  const root = pkl.slice(0, -'data.pkl'.length);
  const value = new Unpickler(files[pkl]!, source, (_dtype, key) => {
    const data = files[`${root}data/${key}`];
    if (!data) throw new InputError(source, `storage ${root}data/${key} is missing from the zip`);
    return data;
  }).run();
  const asDict = (v: PyValue) =>
    typeof v === 'object' && v !== null && !Array.isArray(v) && v.kind === 'dict' ? v.entries : undefined;
  let dict = asDict(value);
  if (!dict) throw new InputError(source, 'the checkpoint is not a dict of tensors');
  for (const key of ['state_dict', 'model']) {
    const inner = asDict(dict.get(key) ?? null);
    if (inner) dict = inner;
  }
  const tensors = new Map<string, Tensor>();
  for (const [k, v] of dict) {
    if (typeof k === 'string' && typeof v === 'object' && v !== null && !Array.isArray(v) && v.kind === 'tensor') {
      tensors.set(k, v.tensor);
    }
  }
  if (!tensors.size) throw new InputError(source, 'the checkpoint holds no tensors');
  return tensors;
}
