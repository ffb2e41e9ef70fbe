import { InputError } from '@anymc3d/core/util';
import type { AnalyzerFactory } from './analyzer.js';

/**
 * The analyzer the command line starts with: the real predict path (volume reading, the
 * backbone loaded once, plugins with one shared frozen-backbone pass, heatmaps on the input
 * grid). It is built in @anymc3d/core and @anymc3d/adapters; until it is connected here the
 * command refuses to start rather than serve made-up predictions.
 */
export const createDefaultAnalyzer: AnalyzerFactory = async (options) => {
  throw new InputError(
    'anymc3d-server',
    `no inference engine is connected to the server yet (backbone "${options.backbone}"); ` +
      'see createDefaultAnalyzer in apps/heatmap-server/src/default-analyzer.ts',
  );
};
