/**
 * The one error type the product raises for bad input. It always names the file (or other
 * source) and the problem, so a CLI can print `message` as one line and exit non-zero.
 */
export class InputError extends Error {
  readonly source: string;
  readonly problem: string;

  constructor(source: string, problem: string, options?: { cause?: unknown }) {
    super(`${source}: ${problem}`, options);
    this.name = 'InputError';
    this.source = source;
    this.problem = problem;
  }
}

export function isInputError(error: unknown): error is InputError {
  return error instanceof InputError;
}
