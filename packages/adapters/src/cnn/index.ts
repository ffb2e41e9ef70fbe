export { type Rgb8Image, readBmp } from './bmp.js';
export {
  type ConvertedNetwork,
  type ConvertOptions,
  convertTflite,
  layerName,
  pointwiseTargets,
  UnsupportedModelError,
} from './convert.js';
export {
  activationRange,
  dequantizeCodes,
  multiplyByQuantizedMultiplier,
  type QuantizedMultiplier,
  quantizeMultiplier,
} from './fixed-point.js';
export { convertTfliteInteger, type IntegerArithmetic, type IntegerNetwork, type QuantizedValue } from './integer.js';
export {
  loadMobileNet,
  loadTfliteBackbone,
  MOBILENET_ASSETS,
  MOBILENET_NAMES,
  MobileNetBackbone,
  type MobileNetName,
  mobilenetCardPath,
  mobilenetCards,
  type NetworkOptions,
  normalisationFor,
  TFLITE_INTEGER_METHOD,
} from './mobilenet.js';
export { normalisePixels, resizeBilinear } from './resize.js';
