#!/bin/sh
# hamletd -t / -T and start-up refusals, end to end: exact file:line:column
# and key paths, the built-in default equal to conf/hamlet.yaml, unknown
# flags, modules refused by name.
. "${top_srcdir:-.}/t/lib.sh"
MODS="$top_builddir/t/mod"
tap_init check
contains() { case "$1" in *"$2"*) ok "$3" ;; *) notok "$3"; echo "#   '$2' not in: $1" ;; esac; }

# a valid file
out=$("$HAMLETD" -t -c "$top_srcdir/conf/hamlet.yaml" 2>&1); rc=$?
is "$rc" 0 "-t on conf/hamlet.yaml exits 0"
contains "$out" "configuration file $top_srcdir/conf/hamlet.yaml test is successful" "-t says so"

# a misspelt key
printf 'bind: 127.0.0.1:7946\nprofile: lan\nbindd: 127.0.0.1:7000\n' > "$dir/typo.yaml"
out=$("$HAMLETD" -t -c "$dir/typo.yaml" 2>&1); rc=$?
is "$rc" 1 "-t on a misspelt key exits 1"
is "$(echo "$out" | head -1)" "hamletd: $dir/typo.yaml:3:1: bindd: unknown key (not a core key, and no mod_bindd.so on the module path)" \
    "misspelt key: file:line:column and key path"
contains "$out" "test failed" "-t says the test failed"

# wrong type, bad value, bad enum, out of range, nested path, syntax error
printf 'tags:\n  role: web\n  dc:\n    - east\n' > "$dir/type.yaml"
out=$("$HAMLETD" -t -c "$dir/type.yaml" 2>&1 | head -1)
is "$out" "hamletd: $dir/type.yaml:4:5: tags.dc: expected a string, got a list" "wrong type"
printf '# c\nretry_interval: soon\n' > "$dir/val.yaml"
out=$("$HAMLETD" -t -c "$dir/val.yaml" 2>&1 | head -1)
is "$out" "hamletd: $dir/val.yaml:2:17: retry_interval: bad duration 'soon' (use e.g. 500ms, 10s, 5m, 24h)" "bad value"
printf 'log_level: loud\n' > "$dir/enum.yaml"
out=$("$HAMLETD" -t -c "$dir/enum.yaml" 2>&1 | head -1)
is "$out" "hamletd: $dir/enum.yaml:1:12: log_level: bad value 'loud', expected one of: trace, debug, info, warn, err" "bad enum"
printf 'protocol: 1\n' > "$dir/range.yaml"
out=$("$HAMLETD" -t -c "$dir/range.yaml" 2>&1 | head -1)
is "$out" "hamletd: $dir/range.yaml:1:11: protocol: 1 out of range [2, 5]" "out of range"
printf 'join:\n  - a\n  - [b\n' > "$dir/syntax.yaml"
out=$("$HAMLETD" -t -c "$dir/syntax.yaml" 2>&1 | head -1)
is "$out" "hamletd: $dir/syntax.yaml:4:1: join[1]: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence)" "YAML syntax error"
out=$("$HAMLETD" -t -c "$dir/nonexistent.yaml" 2>&1 | head -1)
is "$out" "hamletd: $dir/nonexistent.yaml: cannot open: No such file or directory" "missing file"

# a broken config starts nothing: it exits at once, non-zero
"$HAMLETD" -c "$dir/typo.yaml" > "$dir/start.out" 2>&1; rc=$?
is "$rc" 1 "start with a misspelt key exits 1"
if grep -q "running" "$dir/start.out"; then notok "nothing started"; else ok "nothing started"; fi

# -T: the built-in default is exactly conf/hamlet.yaml
"$HAMLETD" -T | sed 1d > "$dir/builtin.txt"
"$HAMLETD" -T -c "$top_srcdir/conf/hamlet.yaml" | sed 1d > "$dir/file.txt"
if cmp -s "$dir/builtin.txt" "$dir/file.txt"; then ok "-T built-in = -T -c conf/hamlet.yaml"; else notok "-T built-in = -T -c conf/hamlet.yaml"; diff "$dir/builtin.txt" "$dir/file.txt" | sed 's/^/# /'; fi
contains "$(cat "$dir/builtin.txt")" 'bind: "127.0.0.1:7946"' "-T shows the default bind"
contains "$(cat "$dir/builtin.txt")" "# gossip timing profile: lan, wan or local" "-T documents keys"
# -T output is itself a valid config that dumps the same
"$HAMLETD" -T -c "$dir/builtin.txt" | sed 1d > "$dir/again.txt"
if cmp -s "$dir/builtin.txt" "$dir/again.txt"; then ok "-T output round-trips"; else notok "-T output round-trips"; fi
out=$("$HAMLETD" -T -bind 127.0.0.3:7000 -tag role=web | grep -A1 '^tags:' | tr -d '\n')
is "$out" 'tags:  role: "web"' "-T shows flag overrides (tags)"
out=$("$HAMLETD" -T -bind 127.0.0.3:7000 | grep '^bind:')
is "$out" 'bind: "127.0.0.3:7000"' "-T shows flag overrides (bind)"

# a serf flag whose module is not on the module path
out=$("$HAMLETD" -t -module-path "$MODS" -encrypt a2V5 2>&1 | head -1)
is "$out" "hamletd: flag -encrypt: crypto: unknown key (not a core key, and no mod_crypto.so on the module path)" "a flag needing a missing module names flag, key and module"

# unknown flag: usage and non-zero
out=$("$HAMLETD" -no-such-flag 2>&1); rc=$?
is "$rc" 1 "unknown flag exits 1"
contains "$out" "flag provided but not defined: -no-such-flag" "unknown flag named"
contains "$out" "Usage: hamletd" "usage printed"
out=$("$HAMLETD" -h); rc=$?
is "$rc" 0 "-h exits 0"
contains "$out" "-event-handler" "-h lists the serf flags"

# modules: refused by name
printf 'module_path: ["%s"]\nmodules: [badabi]\n' "$MODS" > "$dir/abi.yaml"
out=$("$HAMLETD" -t -c "$dir/abi.yaml" 2>&1 | head -1); rc=$?
is "$out" "hamletd: module badabi: ABI version 99, hamletd needs 1 (rebuild the module)" "wrong ABI refused by name"
printf 'module_path: ["%s"]\nmodules: [nosym]\n' "$MODS" > "$dir/nosym.yaml"
out=$("$HAMLETD" -t -c "$dir/nosym.yaml" 2>&1 | head -1)
is "$out" "hamletd: module nosym: $MODS/mod_nosym.so does not export the symbol 'hm_module'" "missing symbol refused"
printf 'module_path: ["%s"]\nmodules: [good]\ngood:\n  count: 3\n  colour: red\n' "$MODS" > "$dir/key.yaml"
out=$("$HAMLETD" -t -c "$dir/key.yaml" 2>&1 | head -1)
is "$out" "hamletd: module good: $dir/key.yaml:5:3: good.colour: unknown key" "unknown key in a module section"
printf 'module_path: ["%s"]\nmodules: [missing]\n' "$MODS" > "$dir/miss.yaml"
out=$("$HAMLETD" -t -c "$dir/miss.yaml" 2>&1 | head -1)
is "$out" "hamletd: module missing: mod_missing.so not found in module path $MODS" "missing module file"
printf 'module_path: ["%s"]\nmodules: [good, failinit]\nbind: 127.0.0.1:1\n' "$MODS" > "$dir/init.yaml"
"$HAMLETD" -t -c "$dir/init.yaml" > /dev/null 2>&1; rc=$?
is "$rc" 0 "-t does not run module init"
"$HAMLETD" -c "$dir/init.yaml" > "$dir/init.out" 2>&1; rc=$?
is "$rc" 1 "failing init: exit 1"
contains "$(cat "$dir/init.out")" "[ERR] agent: module failinit: init failed" "failing init named"
contains "$(cat "$dir/init.out")" "[INFO] good: fini" "modules initialised before it are finalised"

done_testing
