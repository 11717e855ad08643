#!/bin/bash
# Debian's chromium with every --disable-features switch merged into one: chromium keeps only the
# last of repeated switches, and Playwright passes its own list before the test's extra features.
features=""
args=()
for arg in "$@"; do
  case "$arg" in
    --disable-features=*) features="${features:+$features,}${arg#--disable-features=}" ;;
    *) args+=("$arg") ;;
  esac
done
exec /usr/bin/chromium "${args[@]}" ${features:+"--disable-features=$features"}
