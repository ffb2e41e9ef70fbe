import { fileURLToPath } from 'node:url';
import { readMedMnistDataset } from '@anymc3d/core/datasets';
import type { Manifest, TaskCard } from '@anymc3d/core/task';
import { taskCard } from '@anymc3d/core/task';

/** The embedded AdrenalMNIST3D files (CC BY 4.0; see assets/demo/README.md). */
export const DEMO_FILES = {
  28: fileURLToPath(new URL('../../assets/demo/adrenalmnist3d.npz', import.meta.url)),
  64: fileURLToPath(new URL('../../assets/demo/adrenalmnist3d_64.npz', import.meta.url)),
} as const;

export type DemoResolution = keyof typeof DEMO_FILES;

/** Published test-split results for AdrenalMNIST3D (MedMNIST v2, 28³). */
export const PUBLISHED: { model: string; auc: number; acc: number; source: 'benchmark page' | 'recalled' }[] = [
  { model: 'ResNet-50+3D', auc: 0.828, acc: 0.745, source: 'benchmark page' },
  { model: 'ResNet-18+3D', auc: 0.827, acc: 0.721, source: 'recalled' },
  { model: 'ResNet-18+ACS', auc: 0.839, acc: 0.754, source: 'recalled' },
  { model: 'ResNet-18+2.5D', auc: 0.718, acc: 0.772, source: 'recalled' },
  { model: 'auto-sklearn', auc: 0.828, acc: 0.802, source: 'recalled' },
  { model: 'AutoKeras', auc: 0.804, acc: 0.705, source: 'recalled' },
];

/**
 * The catalogue's AdrenalMNIST3D card seen from three planes (the paper's multi-view setting):
 * axial, coronal and sagittal slices of the same mask, each pooled by its own query.
 */
export async function demoManifest(resolution: DemoResolution): Promise<Manifest> {
  const base = await taskCard('medmnist-adrenal');
  const card: TaskCard = {
    ...base,
    views: [
      { name: 'axial', axis: 'axial' },
      { name: 'coronal', axis: 'coronal' },
      { name: 'sagittal', axis: 'sagittal' },
    ],
    inputSize: { ...base.inputSize, slices: resolution },
  };
  return readMedMnistDataset(DEMO_FILES[resolution], card);
}
