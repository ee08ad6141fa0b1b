// `npm run loadgen -- …`: parses the options (exit 2 on a bad one, naming the
// flag), runs the load test with a progress line on stderr and the summary on
// stdout, or compares two summaries. See loadgen/README.md.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { LoadgenOptionError, loadgen_help, parse_loadgen_args } from './options.js';
import { SummaryFileError, compare_text, parse_summary, summary_text } from './report.js';
import { run_loadgen } from './run.js';

export interface CliOutput {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const process_output: CliOutput = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** Runs the CLI; resolves with the exit status (0 ok, 1 run failed or checks failed, 2 bad options or files). */
export async function cli_main(argv: readonly string[], out: CliOutput = process_output): Promise<number> {
  try {
    return await run_command(argv, out);
  } catch (err) {
    if (err instanceof LoadgenOptionError) {
      out.stderr(`loadgen: ${err.message}\n(see npm run loadgen -- --help)\n`);
      return 2;
    }
    if (err instanceof SummaryFileError) {
      out.stderr(`loadgen compare: ${err.message}\n`);
      return 2;
    }
    out.stderr(`loadgen: ${(err as Error).message ?? String(err)}\n`);
    return 1;
  }
}

async function run_command(argv: readonly string[], out: CliOutput): Promise<number> {
  const parsed = parse_loadgen_args(argv);
  if (parsed.command === 'help') {
    out.stdout(`${loadgen_help()}\n`);
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
    out.stdout(`${compare_text(a, b, parsed.files[0], parsed.files[1])}\n`);
    return 0;
  }
  const stop = new AbortController();
  process.once('SIGINT', () => {
    process.once('SIGINT', () => process.exit(130));
    out.stderr('loadgen: interrupted: stopping and writing the report (Ctrl-C again quits at once)\n');
    stop.abort();
  });
  const result = await run_loadgen(parsed.options, {
    command: `npm run loadgen -- ${argv.join(' ')}`.trim(), signal: stop.signal, on_progress: parsed.options.progress ? (line) => out.stderr(`${line}\n`) : () => {},
  });
  out.stdout(`${summary_text(result.summary)}\n`);
  return result.exit_code;
}

// Run only as the entry point (npm run loadgen), not when a test imports cli_main.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  cli_main(process.argv.slice(2)).then((code) => process.exit(code));
}
