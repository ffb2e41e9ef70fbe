import { afterEach, describe, expect, it } from 'vitest';
import { GraphBuilder } from './builder.js';
import { OnnxSession, spinningByDefault } from './engine.js';
import { toOnnx } from './onnx.js';

const saved = process.env.ANYMC3D_ORT_SPINNING;
afterEach(() => {
  if (saved === undefined) delete process.env.ANYMC3D_ORT_SPINNING;
  else process.env.ANYMC3D_ORT_SPINNING = saved;
});

function identityModel(): Uint8Array {
  const g = new GraphBuilder('identity');
  g.output(g.op('Identity', [g.input('x', 'float32', [2])]), 'y');
  return toOnnx(g.build());
}

describe('$ANYMC3D_ORT_SPINNING sets whether sessions spin-wait unless a caller says', () => {
  it('reads 1 as on and 0 or unset as off', () => {
    delete process.env.ANYMC3D_ORT_SPINNING;
    expect(spinningByDefault()).toBe(false);
    process.env.ANYMC3D_ORT_SPINNING = '1';
    expect(spinningByDefault()).toBe(true);
    process.env.ANYMC3D_ORT_SPINNING = ' 0 ';
    expect(spinningByDefault()).toBe(false);
  });

  it('refuses any other value by the variable’s name, before a session is built', async () => {
    process.env.ANYMC3D_ORT_SPINNING = 'yes';
    await expect(OnnxSession.create(identityModel())).rejects.toThrow(
      /\$ANYMC3D_ORT_SPINNING: must be 1 \(spin-wait\) or 0 \(sleep\), got "yes"/,
    );
    // A caller's own choice wins, so the variable is not read at all.
    const session = await OnnxSession.create(identityModel(), { allowSpinning: true });
    await session.release();
  });
});
