import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { BackendChoice } from '../open';

type Options = NonNullable<ParseArgsConfig['options']>;

/** What every command is given: its own options' values plus the common ones. */
export interface CommonValues {
  backend: BackendChoice;
  json: boolean;
}

/** Parsed options: the common ones, plus the command's own by name. */
export type Values = CommonValues & Record<string, string | boolean | undefined>;

export interface Command {
  /** One line for the command list. */
  summary: string;
  /** The command's own options (--backend, --json and --help are common). */
  options: Options;
  /** `dmabridge <name> --help`: what it does and its own options. */
  help: string;
  run(values: Values): number | Promise<number>;
}

/** A bad command line: exit code 2 with the command's usage. */
export class UsageError extends Error {}

const COMMON: Options = {
  backend: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
};

export const COMMON_HELP = `common options:
  --backend auto|native|emulator   which backend (default auto: DMABRIDGE_BACKEND, else native
                                   where the addon loads and the kernel has the devices)
  --json                           the result as JSON on stdout
  -h, --help                       this help`;

export function usage(name: string, command: Command): string {
  return `usage: dmabridge ${name} [options]\n\n${command.help}\n\n${COMMON_HELP}`;
}

/** Parses argv strictly for `command`: unknown options, stray arguments and bad --backend throw UsageError. */
export function parse(command: Command, argv: string[]): Values & { help: boolean } {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { ...COMMON, ...command.options }, strict: true, allowPositionals: false }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const backend = values.backend ?? 'auto';
  if (backend !== 'auto' && backend !== 'native' && backend !== 'emulator') {
    throw new UsageError(`--backend must be 'auto', 'native' or 'emulator', got '${backend}'`);
  }
  return { ...values, backend, json: values.json === true, help: values.help === true };
}
