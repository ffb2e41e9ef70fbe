import { hashOf } from '@anymc3d/core/features';
import type { Precision } from '@anymc3d/core/graph';
import type { PluginInput } from '@anymc3d/core/plugin';
import type { ManifestCase, TaskCard } from '@anymc3d/core/task';

/** The one BullMQ queue every `anymc3d worker` takes case jobs from. */
export const CASE_QUEUE = 'anymc3d-cases';

/** How a worker finds the submitter's backbone: the name or folder given, and the weights it must have. */
export interface JobBackbone {
  spec: string;
  weightsRoot?: string;
  weightHash: string;
  /** The frozen backbone's arithmetic; absent: fp32. */
  precision?: Precision;
}

/** A case as a job carries it: its id and image paths (on storage every worker sees). */
export interface JobCase {
  id: string;
  images: string[];
}

/** Extract one case's frozen tokens into the shared feature cache (`anymc3d features`). */
export interface ExtractJob {
  kind: 'extract';
  backbone: JobBackbone;
  input: PluginInput;
  case: JobCase;
  cacheRoot: string;
}

/** Predict one case with a plugin (`anymc3d predict`): the raw probabilities, before thresholds fold them. */
export interface PredictJob {
  kind: 'predict';
  backbone: JobBackbone;
  /** The plugin folder and the sha256 of its weights (part of the job id). */
  plugin: { dir: string; sha256: string };
  card: TaskCard;
  input: PluginInput;
  case: JobCase;
  cacheRoot: string;
}

export type CaseJob = ExtractJob | PredictJob;

export interface CaseJobResult {
  /** (case, view) entries this job ran through the backbone (0: all came from the cache). */
  computed: number;
  /** predict: the case's raw probabilities, one per label. */
  row?: number[];
}

/**
 * A job's id: what decides its result (the kind, the backbone's weights, the recipe, the case's
 * files, the plugin's weights; for an extraction also the cache it fills), so resubmitting a run
 * finds finished work instead of redoing it. A prediction's result is its row, wherever its tokens
 * were cached. Paths are kept as given: workers must see the same shared storage.
 */
export function caseJobId(job: CaseJob): string {
  const { backbone, cacheRoot, ...rest } = job;
  const where = job.kind === 'extract' ? { cacheRoot } : {};
  // fp32 keeps the id it had before precision was a choice, so earlier runs are still found.
  const arithmetic = backbone.precision && backbone.precision !== 'fp32' ? { precision: backbone.precision } : {};
  return `${job.kind}-${hashOf({ ...rest, ...where, backbone: backbone.weightHash, ...arithmetic }).slice(0, 40)}`;
}

/** The manifest case a worker rebuilds from a job (labels are not a prediction's input). */
export function manifestCaseOf(c: JobCase): ManifestCase {
  return { id: c.id, split: 'test', images: [...c.images], mask: null, labels: new Uint8Array(0), classIndex: null };
}

/**
 * nnU-Net's sharding for schedulers without Redis (Kubernetes Indexed Jobs, Slurm arrays): part K
 * of N takes every N-th case of the list sorted by id, starting at the K-th, so the parts are
 * disjoint, cover every case, and do not depend on the order the manifest lists them in.
 */
export function casePart<T extends { id: string }>(cases: readonly T[], parts: number, part: number): T[] {
  const sorted = [...cases].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return sorted.filter((_, k) => k % parts === part);
}
