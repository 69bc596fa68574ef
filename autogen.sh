#!/bin/sh
# Regenerate the build system from a clone.
set -e
cd "$(dirname "$0")"
mkdir -p m4 build-aux
autoreconf -fi
