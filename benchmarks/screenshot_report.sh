#!/usr/bin/env bash
# Render an infomatch HTML report in headless Chromium and save a full-page screenshot.
#
# Usage: benchmarks/screenshot_report.sh RUN_DIR [OUT.png]
#   Builds RUN_DIR/report.html (infomatch report, --force) and screenshots it to OUT.png
#   (default RUN_DIR/report.png). Needs a Chromium binary: chromium, chromium-browser or
#   google-chrome (e.g. `apt-get install chromium`). Then open OUT.png and check that the
#   verdict tables and every plot (marginals, QQ, pairs, covariance, training) are rendered.
#   The structural check (every plot a decodable PNG, tables present) is tests/test_report.py.
set -euo pipefail
run_dir=${1:?usage: $0 RUN_DIR [OUT.png]}
out=${2:-$run_dir/report.png}
python=${PYTHON:-python}
"$python" -m infomatch report "$run_dir" --out "$run_dir/report.html" --force
browser=""
for b in chromium chromium-browser google-chrome; do
  if command -v "$b" >/dev/null 2>&1; then browser=$b; break; fi
done
if [[ -z "$browser" ]]; then
  echo "no Chromium found (install chromium); the report is at $run_dir/report.html" >&2
  exit 3
fi
"$browser" --headless=new --no-sandbox --disable-gpu --hide-scrollbars \
  --disable-quic --no-first-run --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$(mktemp -d)" --window-size=1200,6000 --screenshot="$(realpath -m "$out")" "file://$(realpath "$run_dir/report.html")"
# a blank page would be a few kB; a rendered report with plots is far larger
size=$(stat -c %s "$out")
echo "screenshot: $out ($size bytes)"
[[ $size -gt 50000 ]] || { echo "screenshot suspiciously small: report may not have rendered" >&2; exit 1; }
