/**
 * The benchmark's task catalogue: the task cards of the paper's benchmark as far as it is public
 * (`listTaskCards`, `taskCard(id)`), shipped as JSON in the package's `assets/tasks/`. Each public
 * card names its dataset reader in `data.reader` (see `@anymc3d/core/datasets`).
 */

export { listTaskCards, TASK_CARDS_DIR, taskCard } from './catalogue.js';
