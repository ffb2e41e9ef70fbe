import { readFile } from 'node:fs/promises';
import { backboneCard, listBackbones, NOT_IMPLEMENTED, resolveBackbone } from '@anymc3d/adapters/registry';
import { convertPickledCheckpoint, PICKLED_CHECKPOINTS } from '@anymc3d/adapters/weights';
import { InputError } from '@anymc3d/core';
import type { Backbone, BackboneCard } from '@anymc3d/core/backbone';
import { BackboneEmbedder } from '@anymc3d/core/backbone';
import { availableDevices, DEVICES, type Device, DeviceUnavailableError, type Precision } from '@anymc3d/core/graph';
import { NpyFormatError, readNpy, writeSafetensors } from '@anymc3d/core/io';
import type { Argv, CommandModule } from 'yargs';

interface ListArgs {
  pattern: string;
  json: boolean;
}

interface InfoArgs {
  backbone: string;
  json: boolean;
  'weights-root'?: string;
}

interface EmbedArgs {
  backbone: string;
  input: string;
  output: string;
  device: string;
  threads?: number;
  'batch-size': number;
  precision: string;
  'allow-spinning'?: boolean;
  'weights-root'?: string;
  quiet: boolean;
}

function cardLine(c: BackboneCard): string {
  const arch =
    c.family === 'vit'
      ? `ViT d=${c.embedDim} depth=${c.depth} heads=${c.heads} patch=${c.patchSize} reg=${c.registers ?? 0}`
      : `d=${c.embedDim}`;
  return `${c.name.padEnd(26)} ${arch.padEnd(44)} ${c.inputSize.join('×').padEnd(8)} ${c.licence}`;
}

const listCommand: CommandModule<object, ListArgs> = {
  command: 'list [pattern]',
  describe: 'List registered backbones (wildcards: dinov2_*, *_reg)',
  builder: (y) =>
    y.positional('pattern', { type: 'string', default: '*', describe: 'Name pattern with * and ?' }).option('json', {
      type: 'boolean',
      default: false,
      describe: 'Print the cards as JSON',
    }) as unknown as Argv<ListArgs>,
  handler: (args) => {
    const cards = listBackbones(args.pattern);
    if (args.json) {
      process.stdout.write(`${JSON.stringify(cards, null, 2)}\n`);
      return;
    }
    for (const c of cards) process.stdout.write(`${cardLine(c)}\n`);
    const re = new RegExp(
      `^${args.pattern
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.')}$`,
      'i',
    );
    const pending = Object.entries(NOT_IMPLEMENTED).filter(([name]) => re.test(name));
    for (const [name, why] of pending) process.stdout.write(`${name.padEnd(20)} (not available: ${why})\n`);
    if (cards.length === 0 && pending.length === 0) process.stderr.write(`no backbone matches "${args.pattern}"\n`);
  },
};

function looksLikePath(spec: string): boolean {
  return spec.includes('/') || spec.includes('\\') || spec.startsWith('.');
}

const infoCommand: CommandModule<object, InfoArgs> = {
  command: 'info <backbone>',
  describe: 'Show a backbone card (a registry name, or a weights folder, which is loaded and checked)',
  builder: (y) =>
    y
      .positional('backbone', { type: 'string', demandOption: true, describe: 'Registry name or folder' })
      .option('weights-root', {
        type: 'string',
        describe: 'Folder holding <name>/ weight folders (default $ANYMC3D_WEIGHTS)',
      })
      .option('json', {
        type: 'boolean',
        default: false,
        describe: 'Print one JSON object',
      }) as unknown as Argv<InfoArgs>,
  handler: async (args) => {
    let card: BackboneCard;
    let weights: { hash: string } | { missing: string } | undefined;
    if (looksLikePath(args.backbone)) {
      const b = await resolveBackbone(args.backbone);
      card = b.card;
      weights = { hash: b.weightHash };
    } else {
      card = backboneCard(args.backbone);
      const root = args['weights-root'] ?? process.env.ANYMC3D_WEIGHTS;
      if (root) {
        try {
          const b = await resolveBackbone(args.backbone, { weightsRoot: root });
          weights = { hash: b.weightHash };
        } catch (error) {
          if (!(error instanceof InputError)) throw error;
          weights = { missing: error.message };
        }
      }
    }
    if (args.json) {
      process.stdout.write(`${JSON.stringify({ ...card, ...(weights ? { weights } : {}) }, null, 2)}\n`);
      return;
    }
    for (const [key, value] of Object.entries(card)) {
      process.stdout.write(`${key.padEnd(12)} ${Array.isArray(value) ? value.join(', ') : String(value)}\n`);
    }
    if (weights && 'hash' in weights) process.stdout.write(`${'weights'.padEnd(12)} sha256 ${weights.hash}\n`);
    else if (weights) process.stdout.write(`${'weights'.padEnd(12)} not available: ${weights.missing}\n`);
  },
};

async function readBatch(path: string, backbone: Backbone): Promise<{ dims: number[]; data: Float32Array }> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (error) {
    throw new InputError(path, `cannot read (${(error as NodeJS.ErrnoException).code ?? String(error)})`, {
      cause: error,
    });
  }
  let array: ReturnType<typeof readNpy>;
  try {
    array = readNpy(bytes);
  } catch (error) {
    if (error instanceof NpyFormatError) throw new InputError(path, error.message, { cause: error });
    throw error;
  }
  const [n, c, h, w] = array.shape;
  if (array.dtype !== 'float32')
    throw new InputError(path, `dtype ${array.dtype}; float32 is expected (an already-normalised [N,3,H,W] batch)`);
  if (array.shape.length !== 4 || c !== 3)
    throw new InputError(path, `shape (${array.shape.join(', ')}); [N,3,H,W] is expected`);
  if (n === 0) throw new InputError(path, 'the batch is empty (N = 0)');
  const p = backbone.card.patchSize ?? 1;
  if (h! % p !== 0 || w! % p !== 0)
    throw new InputError(path, `H×W ${h}×${w} is not a multiple of ${backbone.card.name}'s patch size ${p}`);
  return { dims: array.shape, data: array.data as Float32Array };
}

const embedCommand: CommandModule<object, EmbedArgs> = {
  command: 'embed',
  describe: 'Run a backbone on a normalised float32 [N,3,H,W] .npy batch; write cls, patch_tokens, attention',
  builder: (y) =>
    y
      .option('backbone', {
        alias: 'b',
        type: 'string',
        demandOption: true,
        describe: 'Registry name or weights folder',
      })
      .option('input', { alias: 'i', type: 'string', demandOption: true, describe: 'Input .npy, float32 [N,3,H,W]' })
      .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'Output .safetensors' })
      .option('device', {
        alias: 'd',
        type: 'string',
        default: 'cpu',
        choices: [...DEVICES],
        describe: 'Execution device',
      })
      .option('threads', { type: 'number', describe: 'Intra-op threads (default: all cores)' })
      .option('precision', {
        type: 'string',
        default: 'fp32',
        choices: ['fp32', 'int8'],
        describe:
          "int8: a uint8 TFLite backbone (MobileNet) runs the file's integer network (uint8 activations, ONNX Runtime's QLinearConv); others get dynamically quantised weight MatMuls (faster on CPU). Recorded in the output metadata",
      })
      .option('batch-size', { type: 'number', default: 8, describe: 'Slices per run' })
      .option('allow-spinning', {
        type: 'boolean',
        describe:
          'Spin-wait ONNX Runtime threads (faster on a dedicated machine, much slower on a shared one; default $ANYMC3D_ORT_SPINNING, else off)',
      })
      .option('weights-root', {
        type: 'string',
        describe: 'Folder holding <name>/ weight folders (default $ANYMC3D_WEIGHTS)',
      }) as unknown as Argv<EmbedArgs>,
  handler: async (args) => {
    const device = args.device as Device;
    if (!availableDevices().includes(device)) {
      throw new InputError(
        `--device ${device}`,
        `not available in this onnxruntime-node install (available: ${availableDevices().join(', ')}); for CUDA install onnxruntime-node with its CUDA provider`,
      );
    }
    const backbone = await resolveBackbone(
      args.backbone,
      args['weights-root'] ? { weightsRoot: args['weights-root'] } : {},
    );
    const batch = await readBatch(args.input, backbone);
    const embedder = new BackboneEmbedder(backbone, {
      device,
      precision: args.precision as Precision,
      batchSize: args['batch-size'],
      ...(args['allow-spinning'] !== undefined ? { allowSpinning: args['allow-spinning'] } : {}),
      ...(args.threads !== undefined ? { threads: args.threads } : {}),
    });
    const started = Date.now();
    let out: Awaited<ReturnType<BackboneEmbedder['embed']>>;
    try {
      out = await embedder.embed({ dtype: 'float32', dims: batch.dims, data: batch.data });
    } catch (error) {
      if (error instanceof DeviceUnavailableError)
        throw new InputError(`--device ${device}`, error.message, { cause: error });
      throw error;
    } finally {
      await embedder.release().catch(() => undefined);
    }
    const metadata = {
      backbone: backbone.card.name,
      weight_sha256: backbone.weightHash,
      grid: out.grid.join('x'),
      device: embedder.device,
      precision: embedder.precision,
      quantized_matmuls: String(embedder.provenance?.quantizedMatMuls ?? 0),
      // Which int8 arithmetic ran: the file's own integer graph or the dynamic MatMul pass.
      ...(embedder.provenance?.method ? { precision_method: embedder.provenance.method } : {}),
    };
    await writeSafetensors(
      args.output,
      {
        cls: out.cls,
        ...(out.patchTokens ? { patch_tokens: out.patchTokens } : {}),
        ...(out.attention ? { attention: out.attention } : {}),
      },
      metadata,
    );
    if (!args.quiet) {
      process.stderr.write(
        `${backbone.card.name} on ${embedder.device}: ${batch.dims[0]} slices ${batch.dims[2]}×${batch.dims[3]} (grid ${out.grid.join('×')}) in ${((Date.now() - started) / 1000).toFixed(2)} s → ${args.output}\n`,
      );
    }
  },
};

interface ConvertArgs {
  folder: string;
}

const convertCommand: CommandModule<object, ConvertArgs> = {
  command: 'convert <folder>',
  describe: `Convert a downloaded folder's pickled checkpoint (${PICKLED_CHECKPOINTS.map((c) => c.pickle).join(', ')}) to safetensors, once; loading never reads a pickle`,
  builder: (y) => y.positional('folder', { type: 'string', demandOption: true }) as unknown as Argv<ConvertArgs>,
  handler: async (args) => {
    const done = await convertPickledCheckpoint(args.folder);
    process.stdout.write(
      `${done.from} → ${done.to}: ${done.tensors} tensors, ${(done.bytes / 2 ** 20).toFixed(1)} MiB\n`,
    );
    // Load it back the way every command will, so a folder that converts but cannot run says so now.
    const backbone = await resolveBackbone(args.folder);
    process.stdout.write(
      `loads as ${backbone.card.architecture} d=${backbone.card.embedDim} (weights sha256 ${backbone.weightHash.slice(0, 12)})\n`,
    );
  },
};

export const backbonesCommand: CommandModule = {
  command: 'backbones <command>',
  describe: 'List, inspect and run backbones',
  builder: (y) =>
    y
      .command(listCommand as never)
      .command(infoCommand as never)
      .command(embedCommand as never)
      .command(convertCommand as never)
      .demandCommand(1, 'Name a subcommand: list, info, embed or convert'),
  handler: () => undefined,
};
