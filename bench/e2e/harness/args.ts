// Command-line options of the bench files: `--name value`.
export function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

/** `--name 10,50,0` → [10, 50, 0]. */
export function list_arg(name: string, fallback: number[]): number[] {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1].split(',').map(Number) : fallback;
}

export const quick = process.argv.includes('--quick');
