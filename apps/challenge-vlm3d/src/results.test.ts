import { describe, expect, it } from 'vitest';
import { CT_RATE_LABELS } from './labels.js';
import { validateResults } from './results.js';

function doc(probabilities: Record<string, unknown>, name = 'valid_53_a_1') {
  return {
    name: 'Generated probabilities',
    type: 'Abnormality Classification',
    version: { major: 1, minor: 0 },
    predictions: [{ input_image_name: name, probabilities }],
  };
}
const all = Object.fromEntries(CT_RATE_LABELS.map((l) => [l, 0.25]));

describe('validateResults', () => {
  it('has the 18 labels in the official order', () => {
    expect(CT_RATE_LABELS).toHaveLength(18);
    expect(CT_RATE_LABELS[0]).toBe('Medical material');
    expect(CT_RATE_LABELS[17]).toBe('Interlobular septal thickening');
  });

  it('accepts a complete document', () => {
    expect(validateResults(doc(all), ['valid_53_a_1'])).toEqual([]);
  });

  it('reports a missing label, a NaN, a misspelling, an extension and a missing case', () => {
    const probs: Record<string, unknown> = { ...all, Cardiomegaly: Number.NaN, 'Lung Nodule': 0.2 };
    delete probs['Lung nodule'];
    const problems = validateResults(doc(probs, 'valid_53_a_1.nii.gz'), ['other_case']);
    expect(problems.join('\n')).toMatch(/"Lung nodule" is missing/);
    expect(problems.join('\n')).toMatch(/Cardiomegaly.*finite/);
    expect(problems.join('\n')).toMatch(/unknown label "Lung Nodule"/);
    expect(problems.join('\n')).toMatch(/without extension/);
    expect(problems.join('\n')).toMatch(/"other_case" has no prediction/);
  });
});
