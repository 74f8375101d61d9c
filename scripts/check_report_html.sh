#!/usr/bin/env bash
# Renders DIR/report.html (written by `greentune report DIR`) in headless Chromium and saves a screenshot to
# DIR/report.png, to check that the self-contained page displays: fails when Chromium is missing or no
# screenshot comes out. Chromium is not in setup.sh's list (it is large): sudo apt-get install chromium
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 STUDY_DIR   (the directory greentune report wrote report.html into)" >&2
  exit 2
fi
study_dir=$(cd "$1" && pwd)
html="$study_dir/report.html"
screenshot="$study_dir/report.png"
if [ ! -f "$html" ]; then
  echo "check_report_html: $html does not exist; run: greentune report $1" >&2
  exit 3
fi

chromium_program=""
for candidate in chromium chromium-browser google-chrome; do
  if command -v "$candidate" > /dev/null 2>&1; then
    chromium_program=$candidate
    break
  fi
done
if [ -z "$chromium_program" ]; then
  echo "check_report_html: Chromium is not installed; install it with:" >&2
  echo "  sudo apt-get install -y --no-install-recommends chromium" >&2
  exit 3
fi

rm -f "$screenshot"
chromium_log=$(mktemp)
trap 'rm -f "$chromium_log"' EXIT
# No network is needed: the page is self-contained. 2000 px tall shows the tables and the first plots.
# Chromium's exit status is not trusted either way (it can print errors and still draw); the screenshot is.
timeout 120 "$chromium_program" --headless --disable-gpu --no-sandbox --hide-scrollbars \
  --screenshot="$screenshot" --window-size=1280,2000 "file://$html" > "$chromium_log" 2>&1 || true
if [ ! -s "$screenshot" ]; then
  echo "check_report_html: $chromium_program produced no screenshot of $html; its output:" >&2
  cat "$chromium_log" >&2
  exit 1
fi
echo "check_report_html: $screenshot"
