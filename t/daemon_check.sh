#!/bin/sh
# hamletd -t / -T and start-up refusals, end to end: exact file:line:column
# and key paths, the built-in default equal to conf/hamlet.yaml, unknown
# flags, modules refused by name.
: "${top_builddir:=.}" "${top_srcdir:=.}"
HAMLETD="$top_builddir/core/hamletd"
MODS="$top_builddir/t/mod"
T=$(mktemp -d /tmp/hm-check.XXXXXX)
trap 'rm -rf "$T"' EXIT
n=0
fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); fail=1; echo "not ok $n - $1"; }
check() { if [ "$1" = "$2" ]; then ok "$3"; else nok "$3"; echo "#   got:      $1"; echo "#   expected: $2"; fi; }
contains() { case "$1" in *"$2"*) ok "$3" ;; *) nok "$3"; echo "#   '$2' not in: $1" ;; esac; }

# a valid file
out=$("$HAMLETD" -t -c "$top_srcdir/conf/hamlet.yaml" 2>&1); rc=$?
check "$rc" 0 "-t on conf/hamlet.yaml exits 0"
contains "$out" "configuration file $top_srcdir/conf/hamlet.yaml test is successful" "-t says so"

# a misspelt key
printf 'bind: 127.0.0.1:7946\nprofile: lan\nbindd: 127.0.0.1:7000\n' > "$T/typo.yaml"
out=$("$HAMLETD" -t -c "$T/typo.yaml" 2>&1); rc=$?
check "$rc" 1 "-t on a misspelt key exits 1"
check "$(echo "$out" | head -1)" "hamletd: $T/typo.yaml:3:1: bindd: unknown key (not a core key, and no mod_bindd.so on the module path)" \
    "misspelt key: file:line:column and key path"
contains "$out" "test failed" "-t says the test failed"

# wrong type, bad value, bad enum, out of range, nested path, syntax error
printf 'tags:\n  role: web\n  dc:\n    - east\n' > "$T/type.yaml"
out=$("$HAMLETD" -t -c "$T/type.yaml" 2>&1 | head -1)
check "$out" "hamletd: $T/type.yaml:4:5: tags.dc: expected a string, got a list" "wrong type"
printf '# c\nretry_interval: soon\n' > "$T/val.yaml"
out=$("$HAMLETD" -t -c "$T/val.yaml" 2>&1 | head -1)
check "$out" "hamletd: $T/val.yaml:2:17: retry_interval: bad duration 'soon' (use e.g. 500ms, 10s, 5m, 24h)" "bad value"
printf 'log_level: loud\n' > "$T/enum.yaml"
out=$("$HAMLETD" -t -c "$T/enum.yaml" 2>&1 | head -1)
check "$out" "hamletd: $T/enum.yaml:1:12: log_level: bad value 'loud', expected one of: trace, debug, info, warn, err" "bad enum"
printf 'protocol: 1\n' > "$T/range.yaml"
out=$("$HAMLETD" -t -c "$T/range.yaml" 2>&1 | head -1)
check "$out" "hamletd: $T/range.yaml:1:11: protocol: 1 out of range [2, 5]" "out of range"
printf 'join:\n  - a\n  - [b\n' > "$T/syntax.yaml"
out=$("$HAMLETD" -t -c "$T/syntax.yaml" 2>&1 | head -1)
check "$out" "hamletd: $T/syntax.yaml:4:1: join[1]: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence)" "YAML syntax error"
out=$("$HAMLETD" -t -c "$T/nonexistent.yaml" 2>&1 | head -1)
check "$out" "hamletd: $T/nonexistent.yaml: cannot open: No such file or directory" "missing file"

# a broken config starts nothing: it exits at once, non-zero
"$HAMLETD" -c "$T/typo.yaml" > "$T/start.out" 2>&1; rc=$?
check "$rc" 1 "start with a misspelt key exits 1"
if grep -q "running" "$T/start.out"; then nok "nothing started"; else ok "nothing started"; fi

# -T: the built-in default is exactly conf/hamlet.yaml
"$HAMLETD" -T | sed 1d > "$T/builtin.txt"
"$HAMLETD" -T -c "$top_srcdir/conf/hamlet.yaml" | sed 1d > "$T/file.txt"
if cmp -s "$T/builtin.txt" "$T/file.txt"; then ok "-T built-in = -T -c conf/hamlet.yaml"; else nok "-T built-in = -T -c conf/hamlet.yaml"; diff "$T/builtin.txt" "$T/file.txt" | sed 's/^/# /'; fi
contains "$(cat "$T/builtin.txt")" 'bind: "127.0.0.1:7946"' "-T shows the default bind"
contains "$(cat "$T/builtin.txt")" "# gossip timing profile: lan, wan or local" "-T documents keys"
# -T output is itself a valid config that dumps the same
"$HAMLETD" -T -c "$T/builtin.txt" | sed 1d > "$T/again.txt"
if cmp -s "$T/builtin.txt" "$T/again.txt"; then ok "-T output round-trips"; else nok "-T output round-trips"; fi
out=$("$HAMLETD" -T -bind 127.0.0.3:7000 -tag role=web | grep -A1 '^tags:' | tr -d '\n')
check "$out" 'tags:  role: "web"' "-T shows flag overrides (tags)"
out=$("$HAMLETD" -T -bind 127.0.0.3:7000 | grep '^bind:')
check "$out" 'bind: "127.0.0.3:7000"' "-T shows flag overrides (bind)"

# a serf flag whose module is not on the module path
out=$("$HAMLETD" -t -module-path "$MODS" -encrypt a2V5 2>&1 | head -1)
check "$out" "hamletd: flag -encrypt: crypto: unknown key (not a core key, and no mod_crypto.so on the module path)" "a flag needing a missing module names flag, key and module"

# unknown flag: usage and non-zero
out=$("$HAMLETD" -no-such-flag 2>&1); rc=$?
check "$rc" 1 "unknown flag exits 1"
contains "$out" "flag provided but not defined: -no-such-flag" "unknown flag named"
contains "$out" "Usage: hamletd" "usage printed"
out=$("$HAMLETD" -h); rc=$?
check "$rc" 0 "-h exits 0"
contains "$out" "-event-handler" "-h lists the serf flags"

# modules: refused by name
printf 'module_path: ["%s"]\nmodules: [badabi]\n' "$MODS" > "$T/abi.yaml"
out=$("$HAMLETD" -t -c "$T/abi.yaml" 2>&1 | head -1); rc=$?
check "$out" "hamletd: module badabi: ABI version 99, hamletd needs 1 (rebuild the module)" "wrong ABI refused by name"
printf 'module_path: ["%s"]\nmodules: [nosym]\n' "$MODS" > "$T/nosym.yaml"
out=$("$HAMLETD" -t -c "$T/nosym.yaml" 2>&1 | head -1)
check "$out" "hamletd: module nosym: $MODS/mod_nosym.so does not export the symbol 'hm_module'" "missing symbol refused"
printf 'module_path: ["%s"]\nmodules: [good]\ngood:\n  count: 3\n  colour: red\n' "$MODS" > "$T/key.yaml"
out=$("$HAMLETD" -t -c "$T/key.yaml" 2>&1 | head -1)
check "$out" "hamletd: module good: $T/key.yaml:5:3: good.colour: unknown key" "unknown key in a module section"
printf 'module_path: ["%s"]\nmodules: [missing]\n' "$MODS" > "$T/miss.yaml"
out=$("$HAMLETD" -t -c "$T/miss.yaml" 2>&1 | head -1)
check "$out" "hamletd: module missing: mod_missing.so not found in module path $MODS" "missing module file"
printf 'module_path: ["%s"]\nmodules: [good, failinit]\nbind: 127.0.0.1:1\n' "$MODS" > "$T/init.yaml"
"$HAMLETD" -t -c "$T/init.yaml" > /dev/null 2>&1; rc=$?
check "$rc" 0 "-t does not run module init"
"$HAMLETD" -c "$T/init.yaml" > "$T/init.out" 2>&1; rc=$?
check "$rc" 1 "failing init: exit 1"
contains "$(cat "$T/init.out")" "[ERR] agent: module failinit: init failed" "failing init named"
contains "$(cat "$T/init.out")" "[INFO] good: fini" "modules initialised before it are finalised"

echo "1..$n"
exit $fail
