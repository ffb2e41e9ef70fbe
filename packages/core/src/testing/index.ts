export { pythonHas, pythonReferenceAvailable, runPython, SYSTEM_PYTHON } from './python.js';
