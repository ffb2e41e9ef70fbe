import type { FrozenEmbedder } from '../backbone/embedder.js';
import { readCaseImage } from '../datasets/image.js';
import type { FeatureCache } from '../features/cache.js';
import { type ViewInput, volumePixels } from '../pipeline/embed-volume.js';
import { type ViewTokenProgress, viewTokens } from '../pipeline/view-tokens.js';
import { type PluginInput, prepareCaseVolume } from '../plugin/index.js';
import { type Manifest, type ManifestCase, SPLITS, type Split } from '../task/manifest.js';
import type { VolumeCase } from '../train/backbone-trainer.js';
import type { FeatureCase } from '../train/features.js';
import { InputError } from '../util/errors.js';
import type { Processed } from '../volume/record.js';

/** A case's image as the task's recipe prepares it (the one case pipeline: `prepareCaseVolume`). */
async function prepared(c: ManifestCase, input: PluginInput): Promise<Processed> {
  const path = c.images[0]!;
  return prepareCaseVolume(await readCaseImage(path), input, path).volume;
}

/** The manifest's cases of one split, in manifest order. */
export function splitCases(manifest: Manifest, split: Split): ManifestCase[] {
  return manifest.cases.filter((c) => c.split === split);
}

/** Checks that the protocol can run: every split present, and both classes of every label in train. */
export function checkSplits(manifest: Manifest): void {
  for (const split of SPLITS) {
    if (splitCases(manifest, split).length === 0) {
      throw new InputError(manifest.source, `the ${split} split has no cases (train, select on val, score test)`);
    }
  }
}

/**
 * Frozen tokens [slices, d] of every case (one view), from the feature cache where present; only
 * missing entries reach the backbone. `computed` says how many were extracted in this call.
 */
export async function caseTokens(
  manifest: Manifest,
  input: PluginInput,
  view: ViewInput,
  embedder: FrozenEmbedder,
  cache: FeatureCache,
  onProgress?: (p: ViewTokenProgress) => void,
): Promise<{ bySplit: Map<Split, FeatureCase[]>; computed: number }> {
  let computed = 0;
  const tokens = await viewTokens(
    manifest.cases.map((c) => ({ id: c.id, load: () => prepared(c, input) })),
    [view],
    embedder,
    cache,
    (p) => {
      computed = p.computed;
      onProgress?.(p);
    },
  );
  const bySplit = new Map<Split, FeatureCase[]>();
  for (const split of SPLITS) {
    bySplit.set(
      split,
      splitCases(manifest, split).map((c) => {
        const t = tokens.get(c.id)!.get(view.name)!;
        return { id: c.id, tokens: t.tokens, slices: t.slices, labels: Array.from(c.labels) };
      }),
    );
  }
  return { bySplit, computed };
}

/** The probe's input: each case's tokens averaged over slices, as a one-slice case. */
export function meanPooled(cases: readonly FeatureCase[]): FeatureCase[] {
  return cases.map((c) => {
    const d = c.tokens.length / c.slices;
    const mean = new Float32Array(d);
    for (let s = 0; s < c.slices; s++) for (let j = 0; j < d; j++) mean[j]! += c.tokens[s * d + j]!;
    for (let j = 0; j < d; j++) mean[j]! /= c.slices;
    return { id: c.id, tokens: mean, slices: 1, labels: c.labels };
  });
}

/**
 * Cases for LoRA training and prediction. The source voxels are read once and kept; the float
 * pixels (48× larger at 64² from 28³ uint8) are made on access, with the last few kept, so a
 * training set never sits in memory as network input all at once.
 */
export async function volumeCases(
  cases: readonly ManifestCase[],
  input: PluginInput,
  view: ViewInput,
): Promise<VolumeCase[]> {
  const recent = new Map<string, { pixels: Float32Array; slices: number }>();
  const pixelsOf = (id: string, volume: Processed) => {
    let p = recent.get(id);
    if (p) {
      recent.delete(id);
    } else {
      p = volumePixels(volume, view);
      if (recent.size >= 8) recent.delete(recent.keys().next().value!);
    }
    recent.set(id, p);
    return p;
  };
  const out: VolumeCase[] = [];
  for (const c of cases) {
    const volume = await prepared(c, input);
    const slices = pixelsOf(c.id, volume).slices;
    out.push({
      id: c.id,
      labels: Array.from(c.labels),
      slices,
      get pixels() {
        return pixelsOf(c.id, volume).pixels;
      },
    });
  }
  return out;
}

export { volumePixels };
