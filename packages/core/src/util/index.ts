export { writeFileAtomic } from './atomic.js';
export { InputError, isInputError } from './errors.js';
export { transparentHugePages } from './huge-pages.js';
export { mapLimited } from './map-limited.js';
export { escapeMarkup } from './markup.js';
export { Random } from './random.js';
