#!/bin/sh
# `npm test`: the type check, then tap over the unit and local suites (two files at a time), then the VM
# suite on its own: its three emulated VMs take both cores, which would starve the timing of the others.
# Both suites always run; the exit status fails if either did. Each prints its own tap summary. The VM
# suite's code runs in the guests, so it measures no coverage here (tap would fail it for having none).
set -u
tsc -p tsconfig.test.json || exit 1
tap
suites=$?
npm run --silent test:vm
vms=$?
[ "$suites" = 0 ] && [ "$vms" = 0 ]
