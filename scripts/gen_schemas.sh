#!/usr/bin/env bash
# Regenerates the FlatBuffers TypeScript code in src/wire/generated from schemas/*.fbs.
#   scripts/gen_schemas.sh          write the generated code
#   scripts/gen_schemas.sh --check  fail if regenerating would change the committed code
# flatc 2.0.8 (Debian's flatbuffers-compiler) writes relative imports without a
# file extension, which NodeNext ESM rejects, so we append `.js` afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v flatc >/dev/null || { echo "gen_schemas: flatc not found (apt-get install -y flatbuffers-compiler)" >&2; exit 2; }
out_dir=src/wire/generated
tmp_dir=$(mktemp -d)
trap 'rm -rf "$tmp_dir"' EXIT
flatc --ts -o "$tmp_dir" schemas/engine_events.fbs schemas/feed.fbs
# from './x' / from '../x'  →  from './x.js'
find "$tmp_dir" -name '*.ts' -print0 | xargs -0 sed -i -E "s#(from '\.{1,2}/[^']*)';#\1.js';#"
if [[ "${1:-}" == "--check" ]]; then
  if ! diff -r "$tmp_dir" "$out_dir" >/dev/null; then
    diff -r "$tmp_dir" "$out_dir" | head -40 >&2
    echo "gen_schemas: src/wire/generated is stale; run 'npm run gen' and commit" >&2
    exit 1
  fi
  echo "gen_schemas: generated code is up to date"
  exit 0
fi
rm -rf "$out_dir"
mkdir -p "$out_dir"
cp -r "$tmp_dir"/. "$out_dir"/
echo "gen_schemas: wrote $out_dir"
