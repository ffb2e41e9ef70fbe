import type { BackboneEmbedder } from '../backbone/embedder.js';
import type { FeatureCache } from '../features/cache.js';
import type { ViewInput } from '../pipeline/embed-volume.js';
import { type ViewTokenProgress, viewTokens } from '../pipeline/view-tokens.js';
import type { PluginInput } from '../plugin/index.js';
import { type Manifest, type ManifestCase, SPLITS, type Split } from '../task/manifest.js';
import type { FeatureCase } from '../train/features.js';
import { InputError } from '../util/errors.js';
import { caseSources } from '../workflows/case-sources.js';

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
  embedder: BackboneEmbedder,
  cache: FeatureCache,
  onProgress?: (p: ViewTokenProgress) => void,
): Promise<{ bySplit: Map<Split, FeatureCase[]>; computed: number }> {
  let computed = 0;
  const tokens = await viewTokens(
    caseSources(manifest.cases, input, { digestIndex: cache.digestIndex }),
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
