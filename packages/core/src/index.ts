export { InputError, isInputError, writeFileAtomic } from './util/index.js';
export { CORE_VERSION } from './version.js';
