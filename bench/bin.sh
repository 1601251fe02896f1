# Sourced by the bench scripts: sets BIN to the fieldhouse binary to measure:
# $FIELDHOUSE_BIN, else the release build in CI's shared target dir, else the repository's
# target/release. Needs ROOT (the repository) set; exits when there is no binary.
if [ -n "${FIELDHOUSE_BIN:-}" ]; then
  BIN=$FIELDHOUSE_BIN
elif [ -x "$HOME/.cache/fieldhouse/target/release/fieldhouse" ]; then
  BIN=$HOME/.cache/fieldhouse/target/release/fieldhouse
else
  BIN=$ROOT/target/release/fieldhouse
fi
[ -x "$BIN" ] || { echo "no fieldhouse binary at $BIN (bench/build.sh, or set FIELDHOUSE_BIN)" >&2; exit 1; }
# need_lake DIR: exit with a hint unless DIR holds a lake (a demo's data directory).
need_lake() {
  [ -d "$1/lake/events/_delta_log" ] || { echo "no lake at $1/lake (run \`fieldhouse --data-dir $1 demo --no-serve\` first)" >&2; exit 1; }
}
