import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readTaskCard, type TaskCard, validateTaskCard } from './card.js';
import { casesOf, readManifest } from './manifest.js';

const chest: TaskCard = {
  id: 'chest-ct',
  description: 'Chest CT abnormalities',
  kind: 'multilabel',
  labels: ['Cardiomegaly', 'Lung nodule'],
  views: [
    { name: 'axial', axis: 'axial' },
    { name: 'coronal', axis: 'coronal' },
  ],
  windows: [
    [-1000, 1000],
    [-150, 250],
    [-1000, 400],
  ],
  inputSize: { height: 224, width: 224, slices: 64 },
  metric: 'auroc',
  data: { source: 'CT-RATE (ibrahimhamamci/CT-RATE)', licence: 'CC BY-NC-SA 4.0' },
};

const knee: TaskCard = {
  ...chest,
  id: 'knee',
  kind: 'multiclass',
  labels: ['normal', 'tear', 'rupture'],
  views: [{ name: 'sag', axis: 'sagittal' }],
  windows: undefined,
  normalisation: { method: 'percentile', range: [0.5, 99.5] },
};
delete knee.windows;

describe('task card', () => {
  it('accepts a CT card and an MRI card', () => {
    expect(validateTaskCard(structuredClone(chest), 'c.json')).toEqual(chest);
    expect(validateTaskCard(structuredClone(knee), 'k.json').normalisation).toEqual(knee.normalisation);
  });

  it('reads a card written with the old kind spellings as it meant (multi-label → multilabel)', () => {
    expect(validateTaskCard({ ...structuredClone(chest), kind: 'multi-label' }, 'c.json').kind).toBe('multilabel');
    expect(validateTaskCard({ ...structuredClone(knee), kind: 'multi-class' }, 'k.json').kind).toBe('multiclass');
  });

  it('lists every problem of a bad card in one error naming the file', () => {
    const bad = {
      ...structuredClone(chest),
      kind: 'binary',
      labels: ['A', 'A'],
      views: [{ name: 'ax ial', axis: 'z' }],
      normalisation: { method: 'zscore' },
      windows: [[400, -1000]],
      inputSize: { height: 224, width: 0, slices: 64 },
      metric: 'auc',
      data: { source: 'somewhere' },
    };
    let message = '';
    try {
      validateTaskCard(bad, '/cards/bad.json');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^\/cards\/bad\.json: invalid task card: /);
    for (const part of [
      'label "A" is listed twice',
      'a binary task has exactly one label',
      'views[0].name must use only letters',
      'views[0].axis must be one of axial, coronal, sagittal, got "z"',
      'give exactly one of "windows"',
      'windows[0] must be [lo, hi] with lo < hi',
      'inputSize.width must be a positive integer, got 0',
      '"metric" must be one of',
      'data.licence must name',
    ]) {
      expect(message).toContain(part);
    }
  });

  it('accepts the optional data fields and a template card for non-public data', () => {
    const rsna = {
      ...structuredClone(chest),
      kind: 'binary',
      labels: ['liver injury'],
      data: {
        source: 'Kaggle',
        licence: 'non-commercial',
        citation: 'RATIC',
        reader: 'rsna-trauma',
        labelColumns: { 'liver injury': ['liver_low', 'liver_high'] },
      },
      notes: 'windows are our choice',
    };
    expect(validateTaskCard(structuredClone(rsna), 'r.json')).toEqual(rsna);
    const template = {
      ...structuredClone(chest),
      labels: [],
      data: { source: 'in-house', licence: 'not public', public: false },
    };
    expect(validateTaskCard(template, 't.json').labels).toEqual([]);
    expect(() => validateTaskCard({ ...structuredClone(chest), labels: [] }, 'e.json')).toThrow(
      /"labels" must be a non-empty list/,
    );
  });

  it('names bad optional data fields', () => {
    const bad = {
      ...structuredClone(chest),
      data: {
        source: 's',
        licence: 'l',
        public: 'no',
        reader: '',
        labelColumns: { Cardiomegaly: [], Emphysema: ['emphysema'] },
      },
      notes: 3,
    };
    let message = '';
    try {
      validateTaskCard(bad, 'b.json');
    } catch (error) {
      message = (error as Error).message;
    }
    for (const part of [
      'data.public must be true or false, got "no"',
      'data.reader must be a non-empty string',
      'data.labelColumns["Cardiomegaly"] must be a non-empty list of column names',
      'data.labelColumns names "Emphysema", which is not a label of the card',
      '"notes" must be a non-empty string, got 3',
    ]) {
      expect(message).toContain(part);
    }
  });

  it('reads a card file and names bad JSON', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'anymc3d-card-'));
    await writeFile(join(dir, 'card.json'), JSON.stringify(chest));
    expect(await readTaskCard(join(dir, 'card.json'))).toEqual(chest);
    await writeFile(join(dir, 'broken.json'), '{"id": ');
    await expect(readTaskCard(join(dir, 'broken.json'))).rejects.toThrow(
      /broken\.json: the task card is not valid JSON/,
    );
    await expect(readTaskCard(join(dir, 'none.json'))).rejects.toThrow(/none\.json: cannot read the task card/);
  });
});

describe('dataset manifest', () => {
  let dir: string;
  const header = 'id,split,image_axial,image_coronal,mask,Cardiomegaly,Lung nodule';
  const rows = [
    'c1,train,img/c1.nii.gz,img/c1.nii.gz,img/c1_mask.nii.gz,1,0',
    'c2,train,img/c2_ax.nrrd,img/c2_cor.nrrd,,0,1',
    'c3,val,img/c3.nii.gz,img/c3.nii.gz,,0,0',
    'c4,test,img/c4.nii.gz,img/c4.nii.gz,,1,1',
  ];
  const write = async (name: string, text: string) => {
    await writeFile(join(dir, name), text);
    return join(dir, name);
  };
  const csv = (lines: string[]) => `${[header, ...lines].join('\n')}\n`;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'anymc3d-manifest-'));
    await mkdir(join(dir, 'img'));
    for (const f of ['c1.nii.gz', 'c1_mask.nii.gz', 'c2_ax.nrrd', 'c2_cor.nrrd', 'c3.nii.gz', 'c4.nii.gz']) {
      await writeFile(join(dir, 'img', f), '');
    }
  });

  it('reads a CSV manifest with paths relative to its folder', async () => {
    const m = await readManifest(await write('ok.csv', csv(rows)), chest);
    expect(m.cases.map((c) => c.id)).toEqual(['c1', 'c2', 'c3', 'c4']);
    expect(m.cases[1]!.images).toEqual([join(dir, 'img/c2_ax.nrrd'), join(dir, 'img/c2_cor.nrrd')]);
    expect(m.cases[0]!.mask).toBe(join(dir, 'img/c1_mask.nii.gz'));
    expect(m.cases[1]!.mask).toBeNull();
    expect(Array.from(m.cases[3]!.labels)).toEqual([1, 1]);
    expect(casesOf(m, 'train').map((c) => c.id)).toEqual(['c1', 'c2']);
  });

  it('reads a JSON multi-class manifest with one image for every view or a label column', async () => {
    const path = await write(
      'knee.json',
      JSON.stringify({
        cases: [
          { id: 'k1', split: 'train', image: 'img/c1.nii.gz', label: 'tear' },
          { id: 'k2', split: 'val', images: { sag: 'img/c3.nii.gz' }, labels: { normal: 0, tear: 0, rupture: 1 } },
        ],
      }),
    );
    const m = await readManifest(path, knee);
    expect(m.cases.map((c) => c.classIndex)).toEqual([1, 2]);
    expect(Array.from(m.cases[0]!.labels)).toEqual([0, 1, 0]);
    const csvPath = await write(
      'knee.csv',
      'id,split,image,label\nk1,train,img/c1.nii.gz,rupture\nk2,val,img/c3.nii.gz,normal\n',
    );
    expect((await readManifest(csvPath, knee)).cases.map((c) => c.classIndex)).toEqual([2, 0]);
  });

  it('names the manifest, the case and the missing file', async () => {
    const path = await write('missing.csv', csv([...rows.slice(0, 3), 'c4,test,img/c4.nii.gz,img/nope.nii.gz,,1,1']));
    await expect(readManifest(path, chest)).rejects.toThrow(
      `${path}: line 5 (case "c4"): image for view "coronal" not found: ${join(dir, 'img/nope.nii.gz')}`,
    );
    const mask = await write(
      'mask.csv',
      csv([...rows.slice(0, 3), 'c4,test,img/c4.nii.gz,img/c4.nii.gz,m.nii.gz,1,1']),
    );
    await expect(readManifest(mask, chest)).rejects.toThrow(/line 5 \(case "c4"\): mask not found: .*m\.nii\.gz/);
  });

  it('rejects an unknown label', async () => {
    const json = await write(
      'unknown.json',
      JSON.stringify([
        {
          id: 'c1',
          split: 'train',
          images: { axial: 'img/c1.nii.gz', coronal: 'img/c1.nii.gz' },
          labels: { Cardiomegaly: 1, 'Lung nodule': 0, Emphysema: 1 },
        },
      ]),
    );
    await expect(readManifest(json, chest, { requireSplits: [] })).rejects.toThrow(
      `${json}: entry 1 (case "c1"): unknown label "Emphysema" (not in the card)`,
    );
    const kneeCsv = await write('knee-bad.csv', 'id,split,image,label\nk1,train,img/c1.nii.gz,sprain\n');
    await expect(readManifest(kneeCsv, knee, { requireSplits: [] })).rejects.toThrow(
      /line 2 \(case "k1"\): unknown label "sprain"/,
    );
  });

  it('rejects label columns outside the card and label values other than 0/1', async () => {
    const outside = await write('outside.csv', `${header},Emphysema\n${rows.map((r) => `${r},0`).join('\n')}\n`);
    await expect(readManifest(outside, chest)).rejects.toThrow(
      `${outside}: column "Emphysema" is not a label of the card (Cardiomegaly, Lung nodule) nor a manifest field`,
    );
    const lacking = await write('lacking.csv', 'id,split,image,Cardiomegaly\nc1,train,img/c1.nii.gz,1\n');
    await expect(readManifest(lacking, chest)).rejects.toThrow(/the header has no column for label "Lung nodule"/);
    const value = await write('value.csv', csv([...rows.slice(0, 3), 'c4,test,img/c4.nii.gz,img/c4.nii.gz,,yes,1']));
    await expect(readManifest(value, chest)).rejects.toThrow(
      /line 5 \(case "c4"\): label "Cardiomegaly" must be 0 or 1, got "yes"/,
    );
  });

  it('rejects a case with the wrong number of views', async () => {
    const short = await write('short.csv', csv([...rows.slice(0, 3), 'c4,test,img/c4.nii.gz,,,1,1']));
    await expect(readManifest(short, chest)).rejects.toThrow(
      /line 5 \(case "c4"\): has 1 image\(s\) for the card's 2 view\(s\); missing "coronal"/,
    );
    const json = await write(
      'views.json',
      JSON.stringify([
        {
          id: 'c1',
          split: 'train',
          images: { axial: 'img/c1.nii.gz', coronal: 'img/c1.nii.gz', sagittal: 'img/c1.nii.gz' },
          labels: { Cardiomegaly: 1, 'Lung nodule': 0 },
        },
      ]),
    );
    await expect(readManifest(json, chest, { requireSplits: [] })).rejects.toThrow(
      /entry 1 \(case "c1"\): has 3 image\(s\) for the card's 2 view\(s\); unknown "sagittal"/,
    );
  });

  it('rejects an empty split, a missing split value and duplicate ids', async () => {
    const noVal = await write('noval.csv', csv([rows[0]!, rows[1]!, rows[3]!]));
    await expect(readManifest(noVal, chest)).rejects.toThrow(`${noVal}: split "val" has no cases`);
    await expect(readManifest(noVal, chest, { requireSplits: ['train', 'test'] })).resolves.toBeDefined();
    const blankSplit = await write('blank.csv', csv([...rows, 'c5,,img/c4.nii.gz,img/c4.nii.gz,,0,0']));
    await expect(readManifest(blankSplit, chest)).rejects.toThrow(
      /line 6 \(case "c5"\): split must be one of train, val, test, got an empty value/,
    );
    const dup = await write('dup.csv', csv([...rows, 'c2,val,img/c4.nii.gz,img/c4.nii.gz,,0,0']));
    await expect(readManifest(dup, chest)).rejects.toThrow(
      `${dup}: line 6 (case "c2"): the id was already used on line 3`,
    );
    const empty = await write('empty.csv', csv([]));
    await expect(readManifest(empty, chest)).rejects.toThrow(/the manifest lists no cases/);
  });

  it('accepts a DICOM series folder and an .npz archive entry as images', async () => {
    await mkdir(join(dir, 'series'), { recursive: true });
    await writeFile(join(dir, 'img', 'set.npz'), '');
    const path = await write(
      'kinds.csv',
      'id,split,image,Cardiomegaly,Lung nodule\ns1,train,series,1,0\ns2,val,img/set.npz#val/3,0,1\n',
    );
    const m = await readManifest(path, chest);
    expect(m.cases.map((c) => c.images[0])).toEqual([join(dir, 'series'), join(dir, 'img/set.npz#val/3')]);
    const missing = await write(
      'kinds-missing.csv',
      'id,split,image,Cardiomegaly,Lung nodule\ns1,train,img/other.npz#train/0,1,0\n',
    );
    await expect(readManifest(missing, chest, { requireSplits: [] })).rejects.toThrow(
      `line 2 (case "s1"): image for view "axial" not found: ${join(dir, 'img/other.npz#train/0')}`,
    );
  });

  it('reports many problems at once, listing the first ten', async () => {
    const many = Array.from({ length: 12 }, (_, i) => `x${i},train,img/none${i}.nii.gz,img/c1.nii.gz,,0,0`);
    const path = await write('many.csv', csv([...many, rows[2]!]));
    await expect(readManifest(path, chest)).rejects.toThrow(/x9.*… and 2 more problems$/);
  });
});
