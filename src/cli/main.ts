#!/usr/bin/env node
import { bench } from './bench';
import { type Command, parse, usage, UsageError } from './command';
import { demo } from './demo';
import { doctor } from './doctor';
import { info } from './info';

const COMMANDS: Record<string, Command> = { demo, info, doctor, bench };

const USAGE = `usage: dmabridge <command> [options]

commands:
${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(8)}${c.summary}`).join('\n')}

Every command takes --backend auto|native|emulator, --json and --help
(dmabridge <command> --help for its options).`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    console.error(USAGE);
    return 2;
  }
  if (name === 'help' || name === '--help' || name === '-h') {
    const topic = rest[0] !== undefined ? COMMANDS[rest[0]] : undefined;
    console.log(topic ? usage(rest[0]!, topic) : USAGE);
    return 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    console.error(`dmabridge: unknown command '${name}'\n\n${USAGE}`);
    return 2;
  }
  try {
    const values = parse(command, rest);
    if (values.help) {
      console.log(usage(name, command));
      return 0;
    }
    return await command.run(values);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`dmabridge ${name}: ${e.message}\n\n${usage(name, command)}`);
    return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    const err = e as { code?: string; message?: string };
    console.error(`dmabridge: ${err.code ? `[${err.code}] ` : ''}${err.message ?? String(e)}`);
    process.exitCode = 1;
  },
);
