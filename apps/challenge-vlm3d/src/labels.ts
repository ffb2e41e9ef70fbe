/**
 * The 18 CT-RATE abnormalities, spelled and ordered exactly as the VLM3D scorer reads them
 * (forithmus/VLM3D-Dockers abnclass_evaluation; identical to TorchIO's CtRate.ABNORMALITIES).
 * A missing key is silently scored as 0 by the platform, so spelling matters.
 */
export const CT_RATE_LABELS = [
  'Medical material',
  'Arterial wall calcification',
  'Cardiomegaly',
  'Pericardial effusion',
  'Coronary artery wall calcification',
  'Hiatal hernia',
  'Lymphadenopathy',
  'Emphysema',
  'Atelectasis',
  'Lung nodule',
  'Lung opacity',
  'Pulmonary fibrotic sequela',
  'Pleural effusion',
  'Mosaic attenuation pattern',
  'Peribronchial thickening',
  'Consolidation',
  'Bronchiectasis',
  'Interlobular septal thickening',
] as const;

export type CtRateLabel = (typeof CT_RATE_LABELS)[number];
