export { dequantize, integerValues } from './dequantize.js';
export {
  type Activation,
  BUILTIN,
  type OpOptions,
  type Quantization,
  readTflite,
  type TfliteModel,
  type TfliteOperator,
  type TfliteTensor,
  type TfliteType,
} from './model.js';
