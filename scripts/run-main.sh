#!/usr/bin/env bash
# `make run`: open the OmenDB shell on ./omendb-data.
set -eu
cd "$(dirname "$0")/.."
exec build/omendb omendb-data
