export { type Attributes, type AttrValue, f, fs, t } from './attributes.js';
export {
  buildGradientGraph,
  DIFFERENTIABLE_OPS,
  type GradientSpec,
  gradName,
  pruneGraph,
  seedName,
} from './autodiff.js';
export {
  type Graph,
  GraphBuilder,
  type Node,
  type OpOptions,
  type Param,
  type ParamRole,
  type Value,
} from './builder.js';
export {
  availableDevices,
  DEVICES,
  type Device,
  DeviceUnavailableError,
  type EngineOptions,
  OnnxSession,
  spinningByDefault,
} from './engine.js';
export { gelu, layerNorm, linear, reshape, sliceAxis, softmax, transpose } from './nn.js';
export { type OnnxExportOptions, toOnnx } from './onnx.js';
export {
  dropUnreadWeights,
  frozenMatMulWeight,
  INT8_METHOD,
  type Precision,
  type PrecisionProvenance,
  type QuantizeOptions,
  quantizeColumns,
  quantizeDynamicInt8,
  withPrecision,
} from './quantize.js';
export { broadcast, type InputInfo, inferOutputs, type OutputInfo, ShapeError } from './shapes.js';
export {
  allocate,
  type Dim,
  type DType,
  isFloat,
  numel,
  type Shape,
  type Tensor,
  type TypedArray,
  tensor,
} from './tensor.js';
