import yargs from 'yargs';

/** A flag as the commands declare it: its type, an optional one-letter alias and default. */
export interface FlagSpec {
  type: 'string' | 'boolean';
  short?: string;
  default?: string | boolean;
}

/**
 * Parses one subcommand's flags with yargs (the project's one argument parser), strictly: an
 * unknown flag or a missing value is an Error with yargs' message. Values stay strings, so each
 * command checks its own numbers and says which flag is wrong.
 */
export function parseFlags<T extends Record<string, FlagSpec>>(
  args: string[],
  options: T,
  allowPositionals = false,
): {
  values: { [K in keyof T]: T[K]['type'] extends 'boolean' ? boolean : string | undefined };
  positionals: string[];
} {
  let y = yargs(args)
    .parserConfiguration({
      'boolean-negation': false,
      'camel-case-expansion': false,
      'parse-numbers': false,
      'parse-positional-numbers': false,
    })
    .help(false)
    .version(false)
    .exitProcess(false)
    // Options strictly; positionals are the command's to judge (allowPositionals).
    .strictOptions()
    .fail((message: string, error?: Error) => {
      throw error ?? new Error(message);
    });
  for (const [name, spec] of Object.entries(options)) {
    y = y.option(name, {
      type: spec.type,
      ...(spec.short ? { alias: spec.short } : {}),
      ...(spec.default !== undefined ? { default: spec.default } : {}),
      ...(spec.type === 'string' ? { requiresArg: true } : {}),
    });
  }
  const parsed = y.parseSync() as Record<string, unknown> & { _: (string | number)[] };
  const positionals = parsed._.map(String);
  if (!allowPositionals && positionals.length > 0) throw new Error(`unexpected argument "${positionals[0]}"`);
  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(options)) {
    const v = parsed[name];
    values[name] = spec.type === 'boolean' ? v === true : v === undefined ? undefined : String(v);
  }
  return { values: values as never, positionals };
}
