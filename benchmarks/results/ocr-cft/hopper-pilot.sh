#!/usr/bin/env bash
# The Hopper-v2 pilot (hopper-medium-pilot.md): pilot.sh on Hopper-v2. Usage: bash hopper-pilot.sh [OUT_DIR]
ENV=Hopper-v2 exec bash "$(dirname "$0")/pilot.sh" "$@"
