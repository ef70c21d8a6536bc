#!/usr/bin/env bash
# berth audit vs compose-lint on the same 10,000 generated compose files.
#
#   benches/compare.sh [COUNT]
#
# Generates the corpus (benches/gen_corpus.py), builds berth in release mode, installs
# compose-lint from PyPI into .tools/compose-lint, then times each tool over every file in
# ONE process (so Python's start-up is paid once, the fairest setting for compose-lint),
# both writing their text report to /dev/null. berth runs 5 times after one warm-up run
# (median reported); compose-lint once, as it takes about a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-10000}
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT

python3 benches/gen_corpus.py "$corpus" "$count" 1
files=$(find "$corpus" -name compose.yaml | sort)
echo "corpus: $count projects, $(echo "$files" | wc -l) compose.yaml files, $(du -sb "$corpus" | cut -f1) bytes on disk"

cargo build --release --quiet
venv=.tools/compose-lint
if ! "$venv/bin/compose-lint" --version >/dev/null 2>&1; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check compose-lint==0.36.2
fi
echo "tools: $(./target/release/berth --version), $("$venv/bin/compose-lint" --version)"

# One untimed run first, as hyperfine's warm-up: the first process after a build pays for
# the VM handing it fresh memory (seen here: 1.0-1.8 s against ~0.5 s for the rest).
./target/release/berth audit --quiet "$corpus" > /dev/null || [ $? -eq 1 ]
berth_times=()
for _ in 1 2 3 4 5; do
  start=$(date +%s.%N)
  ./target/release/berth audit --quiet "$corpus" > /dev/null || [ $? -eq 1 ]
  end=$(date +%s.%N)
  berth_times+=("$(echo "$end - $start" | bc)")
done
berth_median=$(printf '%s\n' "${berth_times[@]}" | sort -n | sed -n 3p)
echo "berth audit:   runs ${berth_times[*]} s, median ${berth_median} s"

start=$(date +%s.%N)
# shellcheck disable=SC2086
"$venv/bin/compose-lint" check --format text $files > /dev/null 2>&1 || true
end=$(date +%s.%N)
cl=$(echo "$end - $start" | bc)
echo "compose-lint:  ${cl} s"
echo "speed-up:      $(echo "scale=1; $cl / $berth_median" | bc)x"
