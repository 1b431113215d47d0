#!/usr/bin/env node
import { bench, BENCH_USAGE } from './bench';
import { demo } from './demo';
import { info } from './info';

const USAGE = `usage: dmabridge <command> [options]

commands:
  demo              show the dma-buf layer at work (emulator unless the kernel has the devices)
  info [--json]     list backends, dma-buf sources, heaps and DRM nodes
  bench [options]   measure dmabridge next to ib_write_bw, ibv_reg_mr and memset in one run
                    (dmabridge bench --help for its options)

Set DMABRIDGE_BACKEND=native|emulator to choose the backend.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'demo':
      return demo();
    case 'info':
      return info(rest.includes('--json'));
    case 'bench':
      if (rest.includes('--help') || rest.includes('-h')) {
        console.log(BENCH_USAGE);
        return 0;
      }
      return bench(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return command === undefined ? 1 : 0;
    default:
      console.error(`dmabridge: unknown command '${command}'\n\n${USAGE}`);
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
