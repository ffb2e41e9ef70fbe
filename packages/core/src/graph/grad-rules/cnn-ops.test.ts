import { describe, expect, it } from 'vitest';
import { checkGradients } from '../../testing/gradcheck.js';
import { Random } from '../../util/random.js';
import { buildGradientGraph } from '../autodiff.js';
import { GraphBuilder } from '../builder.js';
import { type Tensor, tensor } from '../tensor.js';

function randomTensor(dims: number[], seed: number, scale = 1): Tensor {
  const r = new Random(seed);
  const n = dims.reduce((p, q) => p * q, 1);
  return tensor(
    'float32',
    dims,
    Float32Array.from({ length: n }, () => scale * r.normal()),
  );
}

/** The ops a MobileNet needs for LoRA on its pointwise convs: depthwise and grouped Conv (input gradient), Clip, GlobalAveragePool. */
function mobileBlock(trainableDepthwise = false) {
  const g = new GraphBuilder('mobile');
  const x = g.input('x', 'float32', [1, 4, 4, 4]);
  const depthwise = g.param('dw', randomTensor([4, 1, 3, 3], 1), { role: trainableDepthwise ? 'trainable' : 'frozen' });
  const d = g.op('Conv', [x, depthwise, g.constant(randomTensor([4], 2, 0.1))], {
    group: 4,
    strides: [2, 2],
    pads: [1, 1, 1, 1],
  });
  const grouped = g.op('Conv', [d, g.constant(randomTensor([4, 2, 3, 3], 3))], { group: 2, pads: [1, 1, 1, 1] });
  const r = g.op('Clip', [grouped, g.scalar(0), g.scalar(2)]);
  const low = g.op('Clip', [d, g.scalar(-0.3)]);
  const pw = g.param('pw', randomTensor([5, 4, 1, 1], 4, 0.5), { role: 'trainable' });
  const p = g.op('Conv', [g.op('Add', [r, low]), pw]);
  const pooled = g.op('GlobalAveragePool', [p]);
  g.output(
    g.op('ReduceSum', [g.op('Mul', [pooled, g.constant(randomTensor([1, 5, 1, 1], 5))])], { keepdims: 0 }),
    'loss',
  );
  return g.build();
}

describe('gradients of CNN ops', () => {
  it('match float32 finite differences through depthwise/grouped Conv, Clip and GlobalAveragePool', async () => {
    const graph = mobileBlock();
    const feeds = { x: randomTensor([1, 4, 4, 4], 9), pw: randomTensor([5, 4, 1, 1], 4, 0.5) };
    const res = await checkGradients(graph, 'loss', feeds, ['x', 'pw'], { step: 1e-2 });
    for (const [name, r] of res) expect(r.relError, `${name}: ${JSON.stringify(r)}`).toBeLessThan(1e-3);
  });

  it('refuses the weight gradient of a grouped Conv with a clear message', () => {
    expect(() => buildGradientGraph(mobileBlock(true), { loss: 'loss', wrt: ['dw', 'pw'] })).toThrow(
      /weight gradient of a grouped Conv/,
    );
  });
});
