import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { InputError } from '../util/errors.js';
import type { DType, Tensor, TypedArray } from './tensor.js';

/**
 * Where a graph runs: the CPU, an NVIDIA GPU through ONNX Runtime's CUDA provider (its libraries
 * come with `npm install --onnxruntime-node-install=cuda12`, blocked offline), or any GPU through
 * the WebGPU provider bundled with onnxruntime-node (Dawn: Vulkan, Metal or D3D12 underneath).
 */
export type Device = 'cpu' | 'cuda' | 'webgpu';
export const DEVICES: readonly Device[] = ['cpu', 'cuda', 'webgpu'];

export interface EngineOptions {
  device?: Device;
  /** Intra-op threads; default: ONNX Runtime's, one per physical core with its workers pinned to cores. 1 is faster when another process holds a core. */
  threads?: number;
  /**
   * Spin-waiting thread pools collapse when a core is taken by another process (measured 2.7×
   * slower); off by default, on for a dedicated machine. Unset: `$ANYMC3D_ORT_SPINNING` (1 or 0),
   * so every command, worker and app takes the machine's choice without a flag of its own.
   */
  allowSpinning?: boolean;
  /** ORT's memory pattern doubles peak RSS of forward+backward graphs; off for training. */
  memoryPattern?: boolean;
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
}

export class DeviceUnavailableError extends Error {}

/** `$ANYMC3D_ORT_SPINNING`: 1 lets ONNX Runtime's threads spin between ops (a dedicated machine), 0 or unset not. */
export function spinningByDefault(): boolean {
  const value = process.env.ANYMC3D_ORT_SPINNING?.trim() ?? '';
  if (value === '' || value === '0') return false;
  if (value === '1') return true;
  throw new InputError('$ANYMC3D_ORT_SPINNING', `must be 1 (spin-wait) or 0 (sleep), got "${value}"`);
}

/** Execution providers this onnxruntime-node build can use. */
export function availableDevices(): Device[] {
  const found: Device[] = ['cpu'];
  try {
    const backends = ort.listSupportedBackends?.() ?? [];
    if (backends.some((b) => b.name === 'cuda' && b.bundled !== false)) found.push('cuda');
    if (backends.some((b) => b.name === 'webgpu')) found.push('webgpu');
  } catch {
    // An older binding without the listing: CPU only.
  }
  return found;
}

const ORT_TYPE: Record<DType, ort.Tensor.Type> = {
  float32: 'float32',
  float64: 'float64',
  float16: 'float16',
  int64: 'int64',
  int32: 'int32',
  int8: 'int8',
  uint8: 'uint8',
  bool: 'bool',
};

function toOrt(t: Tensor): ort.Tensor {
  return new ort.Tensor(ORT_TYPE[t.dtype], t.data as never, [...t.dims]);
}

function fromOrt(t: ort.Tensor): Tensor {
  const dtype = (Object.entries(ORT_TYPE).find(([, v]) => v === t.type)?.[0] ?? 'float32') as DType;
  return { dtype, dims: [...t.dims], data: t.data as TypedArray };
}

/**
 * One ONNX Runtime session, created once and reused: creating sessions per call is slow and
 * releasing them does not always return memory (onnxruntime#16796).
 */
/** Sessions given a profile file so far (their file names stay apart). */
let profiled = 0;

export class OnnxSession {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly device: Device,
  ) {}

  static async create(model: Uint8Array | string, options: EngineOptions = {}): Promise<OnnxSession> {
    const device = options.device ?? 'cpu';
    if (!availableDevices().includes(device)) {
      throw new DeviceUnavailableError(
        `device "${device}" is not available in this onnxruntime-node install (available: ${availableDevices().join(', ')}). ` +
          (device === 'cuda'
            ? "For CUDA, install onnxruntime-node's CUDA provider on a machine that reaches its feed: npm install onnxruntime-node --onnxruntime-node-install=cuda12 (CUDA 12 and cuDNN 9 on the system), then -d cuda."
            : ''),
      );
    }
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      executionProviders: device === 'cpu' ? ['cpu'] : [device, 'cpu'],
      graphOptimizationLevel: options.optimization ?? 'all',
      interOpNumThreads: 1,
      executionMode: 'sequential',
      enableMemPattern: options.memoryPattern ?? true,
      extra: { session: { 'intra_op.allow_spinning': (options.allowSpinning ?? spinningByDefault()) ? '1' : '0' } },
    };
    if (options.threads !== undefined) sessionOptions.intraOpNumThreads = options.threads;
    // ANYMC3D_ORT_PROFILE=<folder>: every session writes ORT's per-node profile there when released
    // (bench/src/train-step-profile.ts sums it per op type); never set in normal runs.
    const profile = process.env.ANYMC3D_ORT_PROFILE;
    if (profile) {
      sessionOptions.enableProfiling = true;
      sessionOptions.profileFilePrefix = join(profile, `session-${process.pid}-${++profiled}`);
    }
    let session: ort.InferenceSession;
    try {
      session =
        typeof model === 'string'
          ? await ort.InferenceSession.create(model, sessionOptions)
          : await ort.InferenceSession.create(model, sessionOptions);
    } catch (error) {
      // The provider is built in, the machine has nothing for it to run on: say which, not ORT's stack.
      const message = (error as Error).message;
      if (device === 'webgpu' && /adapter/i.test(message))
        throw new DeviceUnavailableError(
          'device "webgpu": no WebGPU adapter on this machine (a GPU with a Vulkan, Metal or D3D12 driver is needed; software Vulkan is not enough)',
        );
      if (device === 'cuda' && /cuda|cudnn|libcu/i.test(message))
        throw new DeviceUnavailableError(
          `device "cuda": the CUDA provider could not start (${message.split('\n')[0]})`,
        );
      throw error;
    }
    return new OnnxSession(session, device);
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  async run(feeds: Record<string, Tensor>, fetches?: readonly string[]): Promise<Record<string, Tensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = toOrt(t);
    const result = fetches ? await this.session.run(ortFeeds, [...fetches]) : await this.session.run(ortFeeds);
    const out: Record<string, Tensor> = {};
    for (const [name, t] of Object.entries(result)) out[name] = fromOrt(t);
    return out;
  }

  async release(): Promise<void> {
    if (process.env.ANYMC3D_ORT_PROFILE) this.session.endProfiling();
    await this.session.release();
  }
}
