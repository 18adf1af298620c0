#!/usr/bin/env bash
# The exporter must not link ICU: Foundation's internationalization layer brings about
# 38 MB of ICU data into the release binary and 25 MB into its resident memory. Only
# FoundationEssentials is allowed. Checks every exporter binary that exists:
#   debug (shared Swift libraries): no NEEDED entry for Foundation, its ICU layer or ICU;
#   release (static, --static-swift-stdlib): no ICU symbols and no ICU data.
# Usage: scripts/no-icu-test.sh [BINARY...]   (default: .build/{debug,release}/mitra-exporter)
set -euo pipefail
cd "$(dirname "$0")/.."

binaries=("$@")
if [ ${#binaries[@]} -eq 0 ]; then
  for candidate in .build/debug/mitra-exporter .build/release/mitra-exporter; do
    [ -x "$candidate" ] && binaries+=("$candidate")
  done
fi
if [ ${#binaries[@]} -eq 0 ]; then
  echo "no-icu-test: no mitra-exporter binary; build first" >&2
  exit 1
fi

failed=0
for binary in "${binaries[@]}"; do
  needed=$(readelf -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
  bad_libs=$(grep -E '^lib(Foundation|FoundationInternationalization|_FoundationICU|icu[a-z]*)\.so' <<<"$needed" || true)
  # ICU's C API (ucol_open, ubrk_open, …, versioned as ucol_open_74) and the data blob. A
  # `make build` binary keeps its function symbols only in .gnu_debugdata (scripts/minidebuginfo.sh).
  symbols_of=$binary
  if ! readelf -S "$binary" | grep -q '\.symtab' && readelf -S "$binary" | grep -q '\.gnu_debugdata'; then
    symbols_of=$(mktemp /tmp/no-icu-symbols.XXXXXX)
    read -r offset size < <(readelf -SW "$binary" | sed 's/^ *\[ *[0-9]*\]//' | awk '$1 == ".gnu_debugdata" {print $4, $5}')
    tail -c +$((0x$offset + 1)) "$binary" | head -c $((0x$size)) | xz -dc > "$symbols_of"
  fi
  bad_symbols=$(nm --defined-only "$symbols_of" 2>/dev/null \
    | grep -E ' (ucol_open|ubrk_open|udat_open|unum_open|uregex_open|icudt[0-9]+_dat)(_[0-9]+)?$|_FoundationICU' | head -5 || true)
  [ "$symbols_of" = "$binary" ] || rm -f "$symbols_of"
  if [ -n "$bad_libs" ] || [ -n "$bad_symbols" ]; then
    echo "FAIL $binary links ICU:" >&2
    [ -n "$bad_libs" ] && echo "  shared libraries: $(tr '\n' ' ' <<<"$bad_libs")" >&2
    [ -n "$bad_symbols" ] && echo "  symbols: $(awk '{print $3}' <<<"$bad_symbols" | tr '\n' ' ')" >&2
    failed=1
  else
    echo "ok   $binary: no ICU ($(du -m "$binary" | cut -f1) MB)"
  fi
done
exit $failed
