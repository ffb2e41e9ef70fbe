import type { Precision } from '@anymc3d/core/graph';
import { type PluginCard, servedPrecision } from '@anymc3d/core/plugin';
import { InputError } from '@anymc3d/core/util';
import type { Argv } from 'yargs';

/** The frozen backbone's arithmetic for `features`, `train`, `demo`; unset means core's `tokenPrecision` default. */
export interface PrecisionFlag {
  precision?: Precision;
}

/** `predict` and `heatmap`: unset means the arithmetic the plugin was trained on (`precisionFor`). */
export interface PluginPrecisionFlag {
  precision?: Precision;
}

const PRECISION_HELP =
  "The frozen backbone's arithmetic. int8: dynamically quantised weight MatMuls (ViTs about 2x faster on CPU; a uint8 TFLite MobileNet runs its integer network on ONNX Runtime's QLinearConv, 1.4-1.7x faster than fp32). Tokens are cached apart from fp32 ones and plugins and predictions record it. Frozen only: LoRA runs its adapted backbone in fp32";

export function precisionFlag<T>(y: Argv<T>) {
  return y.option('precision', {
    type: 'string',
    choices: ['fp32', 'int8'],
    describe: `${PRECISION_HELP}. Default: the backbone card's on the CPU (int8 for the shipped MobileNet v1, checked on the demo), else fp32`,
  }) as unknown as Argv<T & PrecisionFlag>;
}

export function pluginPrecisionFlag<T>(y: Argv<T>) {
  return y.option('precision', {
    type: 'string',
    choices: ['fp32', 'int8'],
    describe: `${PRECISION_HELP}. Default: the arithmetic of the tokens the plugin was trained on (its card; fp32 where it says none)`,
  }) as unknown as Argv<T & PluginPrecisionFlag>;
}

/**
 * The arithmetic a plugin's tokens are computed in: the flag, or the one its head was trained on.
 * A flag that differs from training is allowed (comparing arithmetics) but said on stderr, since
 * the head then sees tokens of another arithmetic than it learned from.
 */
export function precisionFor(
  card: Pick<PluginCard, 'lora' | 'backbone'>,
  flag: Precision | undefined,
  plugin: string,
  warn: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Precision {
  const trained = servedPrecision(card);
  const precision = flag ?? trained;
  checkPrecisionFor(card, precision, plugin);
  if (precision !== trained)
    warn(
      `warning: ${plugin} was trained on ${trained} tokens; --precision ${precision} gives its head tokens of another arithmetic`,
    );
  return precision;
}

/**
 * Refuses a precision other than fp32 for a LoRA plugin, in one line before any volume is read:
 * its tokens come from its own adapted backbone, which runs in fp32.
 */
function checkPrecisionFor(card: Pick<PluginCard, 'lora'>, precision: Precision, plugin: string): void {
  if (card.lora !== null && card.lora !== undefined && precision !== 'fp32')
    throw new InputError(
      '--precision',
      `${precision} runs the frozen backbone only; ${plugin} has LoRA, whose adapted backbone runs in fp32`,
    );
}
