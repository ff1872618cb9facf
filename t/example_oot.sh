#!/bin/sh
# modules/example builds out of the tree in one command against the
# installed headers (DESTDIR install of the headers and hamlet.pc), and the
# resulting mod_example.so loads into hamletd.
: "${top_builddir:=.}" "${top_srcdir:=.}"
T=$(mktemp -d /tmp/hm-oot.XXXXXX)
trap 'rm -rf "$T"' EXIT
n=0
fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); fail=1; echo "not ok $n - $1"; }

# install just the module API (headers + pkg-config file) into a DESTDIR
if make -s -C "$top_builddir" DESTDIR="$T/inst" install-pkgincludeHEADERS \
        install-pkgconfigDATA > "$T/install.log" 2>&1; then
    ok "headers and hamlet.pc installed to a DESTDIR"
else
    nok "install to DESTDIR"; sed 's/^/# /' "$T/install.log"
fi
PC=$(find "$T/inst" -name hamlet.pc | head -1)
[ -n "$PC" ] && ok "hamlet.pc installed" || nok "hamlet.pc installed"
HDR=$(find "$T/inst" -path '*/hamlet/hamlet.h' | head -1)
[ -n "$HDR" ] && ok "<hamlet/hamlet.h> installed" || nok "<hamlet/hamlet.h> installed"

# the one command of the README, with the DESTDIR as sysroot
export PKG_CONFIG_PATH="$(dirname "$PC")" PKG_CONFIG_SYSROOT_DIR="$T/inst"
cp "$top_srcdir/modules/example/mod_example.c" "$T/"
if (cd "$T" && ${CC:-cc} -shared -fPIC $(pkg-config --cflags hamlet) -Wall -Werror \
        -o mod_example.so mod_example.c) > "$T/cc.log" 2>&1; then
    ok "mod_example.so built out of tree"
else
    nok "mod_example.so built out of tree"; sed 's/^/# /' "$T/cc.log"
fi
case "$(pkg-config --cflags hamlet)" in
    *"$T/inst"*) ok "only the installed headers are on the include path" ;;
    *) nok "include path points into the DESTDIR: $(pkg-config --cflags hamlet)" ;;
esac

# hamletd accepts it: -t passes the ABI check and validates its section
printf 'module_path: ["%s"]\nmodules: [example]\nexample:\n  reply: hi\n' "$T" > "$T/h.yaml"
if "$top_builddir/core/hamletd" -t -c "$T/h.yaml" > "$T/t.log" 2>&1; then
    ok "hamletd -t accepts the out-of-tree module"
else
    nok "hamletd -t accepts the out-of-tree module"; sed 's/^/# /' "$T/t.log"
fi
printf 'module_path: ["%s"]\nmodules: [example]\nexample:\n  rply: hi\n' "$T" > "$T/bad.yaml"
out=$("$top_builddir/core/hamletd" -t -c "$T/bad.yaml" 2>&1 | head -1)
[ "$out" = "hamletd: module example: $T/bad.yaml:4:3: example.rply: unknown key" ] &&
    ok "its keys are validated" || { nok "its keys are validated"; echo "# $out"; }

echo "1..$n"
exit $fail
