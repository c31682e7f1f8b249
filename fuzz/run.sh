#!/usr/bin/env bash
# fuzz/run.sh SECONDS [TARGET...] - run each cargo-fuzz target for SECONDS (default: all
# targets), seeding its corpus from fuzz/seeds/TARGET (sample configs, captured adverts
# and kernel replies), and append the outcome to fuzz/RUNS.md.
# Needs cargo-fuzz (`cargo install cargo-fuzz`); on a stable toolchain RUSTC_BOOTSTRAP=1
# lets it use the sanitizer flags it needs. A crash leaves its input in fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(config_parse vrrp_decode_v4 vrrp_decode_v6 http_response ipvs_parse bfd_decode agentx_decode reply_decode)
fi
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
mkdir -p logs
status=0
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    if [ -d "seeds/$t" ]; then
        cp -n "seeds/$t"/* "corpus/$t/" 2>/dev/null || true
    fi
    log="logs/$t-$(date -u +%Y%m%dT%H%M%S).log"
    echo "fuzz/run.sh: $t for ${secs}s (log: fuzz/$log)"
    if cargo fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 \
        -print_final_stats=1 >"$log" 2>&1; then
        result=ok
    else
        result="CRASH (see fuzz/$log and fuzz/artifacts/$t)"
        status=1
    fi
    runs=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | tail -1 || true)
    echo "| $(date -u +%F) | $t | ${secs} s | ${runs:-?} | $result |" | tee -a RUNS.md
done
exit $status
