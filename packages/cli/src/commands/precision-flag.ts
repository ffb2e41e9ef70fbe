import type { Precision } from '@anymc3d/core/graph';
import type { PluginCard } from '@anymc3d/core/plugin';
import { InputError } from '@anymc3d/core/util';
import type { Argv } from 'yargs';

/** The frozen backbone's arithmetic for `features`, `predict`, `heatmap` and `demo` (as `backbones embed` and vlm3d have it). */
export interface PrecisionFlag {
  precision: Precision;
}

export function precisionFlag<T>(y: Argv<T>) {
  return y.option('precision', {
    type: 'string',
    default: 'fp32',
    choices: ['fp32', 'int8'],
    describe:
      "The frozen backbone's arithmetic. int8: dynamically quantised weight MatMuls (ViTs about 2x faster on CPU; a uint8 TFLite MobileNet runs its own integer arithmetic). Tokens are cached apart from fp32 ones and the predictions record it. Frozen plugins only: a LoRA plugin runs its adapted backbone in fp32",
  }) as unknown as Argv<T & PrecisionFlag>;
}

/**
 * Refuses a precision other than fp32 for a LoRA plugin, in one line before any volume is read:
 * its tokens come from its own adapted backbone, which runs in fp32.
 */
export function checkPrecisionFor(card: Pick<PluginCard, 'lora'>, precision: Precision, plugin: string): void {
  if (card.lora !== null && card.lora !== undefined && precision !== 'fp32')
    throw new InputError(
      '--precision',
      `${precision} runs the frozen backbone only; ${plugin} has LoRA, whose adapted backbone runs in fp32`,
    );
}
