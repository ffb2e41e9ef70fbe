/** One progress event of a workflow (a CLI draws it as a bar or a line). */
export interface WorkflowProgress {
  /** What is running, e.g. 'features', 'train lora'. */
  stage: string;
  done: number;
  total: number;
  /** Short free text: loss, throughput, current case … */
  detail?: string;
}

export type WorkflowProgressSink = (event: WorkflowProgress) => void;

/** One candidate of a fit: its step count (and head learning rate), scored on val. */
export interface Attempt {
  steps: number;
  /** The head learning rate (undefined: the optimiser's default). */
  lr?: number;
  valAuroc: number | null;
  dir: string;
}

/** One training schedule of a fit: its loss per step and its candidates scored on val. */
export interface FitCurve {
  /** The head learning rate of this schedule (frozen fits try several). */
  lr?: number;
  losses: { step: number; loss: number }[];
  candidates: { steps: number; valAuroc: number | null }[];
}

/** What a fit chose on val and where it wrote the kept plugin. */
export interface Fitted {
  attempts: Attempt[];
  /** One per schedule: what the training curve plot draws. */
  curves: FitCurve[];
  chosen: Attempt;
  /** Per-label operating points chosen on validation (null: one class there, or multi-class). */
  thresholds: (number | null)[];
  pluginDir: string;
}

/** [case][label] rows as per-label columns. */
export function byLabel(rows: readonly (readonly number[])[], labels: number): Float64Array[] {
  return Array.from({ length: labels }, (_, l) => Float64Array.from(rows, (r) => r[l]!));
}
