export { pythonHas, pythonReferenceAvailable, runPython, SYSTEM_PYTHON } from './python.js';
export { tinyCnnBackbone } from './tiny-cnn.js';
