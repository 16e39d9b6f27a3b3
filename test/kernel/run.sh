#!/usr/bin/env bash
# The kernel suite's harness lives in scripts/kernel-test.sh (a private namespace, or the test VM
# when this kernel lacks ipvlan/8021q/dummy). This name is kept for those who look here.
exec "$(dirname "$0")/../../scripts/kernel-test.sh" "$@"
