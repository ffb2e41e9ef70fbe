export { writeFileAtomic } from './atomic.js';
export { InputError, isInputError } from './errors.js';
export { Random } from './random.js';
