// `npm run loadgen -- …`: parses the options (exit 2 on a bad one, naming the
// flag), runs the load test with a progress line on stderr and the summary on
// stdout, or compares two summaries. See loadgen/README.md.
import { readFileSync } from 'node:fs';
import { LoadgenOptionError, loadgen_help, parse_loadgen_args } from './options.js';
import { SummaryFileError, compare_text, parse_summary, summary_text } from './report.js';
import { run_loadgen } from './run.js';

async function main(argv: string[]): Promise<number> {
  const parsed = parse_loadgen_args(argv);
  if (parsed.command === 'help') {
    process.stdout.write(`${loadgen_help()}\n`);
    return 0;
  }
  if (parsed.command === 'compare') {
    const [a, b] = parsed.files.map((file) => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        throw new SummaryFileError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      }
      return parse_summary(text, file);
    });
    process.stdout.write(`${compare_text(a, b, parsed.files[0], parsed.files[1])}\n`);
    return 0;
  }
  const stop = new AbortController();
  process.on('SIGINT', () => {
    if (stop.signal.aborted) process.exit(130);
    process.stderr.write('loadgen: interrupted: stopping and writing the report (Ctrl-C again quits at once)\n');
    stop.abort();
  });
  const result = await run_loadgen(parsed.options, { command: `npm run loadgen -- ${argv.join(' ')}`.trim(), signal: stop.signal });
  process.stdout.write(`${summary_text(result.summary)}\n`);
  return result.exit_code;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof LoadgenOptionError) {
      process.stderr.write(`loadgen: ${err.message}\n(see npm run loadgen -- --help)\n`);
      process.exit(2);
    }
    if (err instanceof SummaryFileError) {
      process.stderr.write(`loadgen compare: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`loadgen: ${(err as Error).message ?? String(err)}\n`);
    process.exit(1);
  },
);
