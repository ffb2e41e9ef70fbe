export { assertSameArray } from './arrays.js';
export { cosine, maxAbsDifference, maxRelativeError, relativeL2Error } from './compare.js';
export { checkGradients, type GradCheckResult } from './gradcheck.js';
export { testPluginCard } from './plugin-card.js';
export { pythonHas, pythonReferenceAvailable, runPython, SYSTEM_PYTHON } from './python.js';
export { randomNormal } from './random-tensor.js';
export { redisServerAvailable, startRedis } from './redis-server.js';
export { sessionsBuilt } from './sessions-built.js';
export { tinyCnnBackbone } from './tiny-cnn.js';
export {
  randomTinyVitWeights,
  TinyVit,
  type TinyVitSpec,
  tinyVitLoraTargets,
  tinyVitWeightShapes,
  type Weights,
} from './tiny-vit.js';
