#!/bin/sh
# modules/example builds out of the tree in one command against the
# installed headers (DESTDIR install of the headers and hamlet.pc), and the
# resulting mod_example.so loads into hamletd.
. "${top_srcdir:-.}/t/lib.sh"
tap_init oot

# install just the module API (headers + pkg-config file) into a DESTDIR
if make -s -C "$top_builddir" DESTDIR="$dir/inst" install-pkgincludeHEADERS \
        install-pkgconfigDATA > "$dir/install.log" 2>&1; then
    ok "headers and hamlet.pc installed to a DESTDIR"
else
    notok "install to DESTDIR"; sed 's/^/# /' "$dir/install.log"
fi
PC=$(find "$dir/inst" -name hamlet.pc | head -1)
[ -n "$PC" ] && ok "hamlet.pc installed" || notok "hamlet.pc installed"
HDR=$(find "$dir/inst" -path '*/hamlet/hamlet.h' | head -1)
[ -n "$HDR" ] && ok "<hamlet/hamlet.h> installed" || notok "<hamlet/hamlet.h> installed"

# the one command of the README, with the DESTDIR as sysroot
export PKG_CONFIG_PATH="$(dirname "$PC")" PKG_CONFIG_SYSROOT_DIR="$dir/inst"
cp "$top_srcdir/modules/example/mod_example.c" "$dir/"
if (cd "$dir" && ${CC:-cc} -shared -fPIC $(pkg-config --cflags hamlet) -Wall -Werror \
        -o mod_example.so mod_example.c) > "$dir/cc.log" 2>&1; then
    ok "mod_example.so built out of tree"
else
    notok "mod_example.so built out of tree"; sed 's/^/# /' "$dir/cc.log"
fi
case "$(pkg-config --cflags hamlet)" in
    *"$dir/inst"*) ok "only the installed headers are on the include path" ;;
    *) notok "include path points into the DESTDIR: $(pkg-config --cflags hamlet)" ;;
esac

# hamletd accepts it: -t passes the ABI check and validates its section
printf 'module_path: ["%s"]\nmodules: [example]\nexample:\n  reply: hi\n' "$dir" > "$dir/h.yaml"
if "$top_builddir/core/hamletd" -t -c "$dir/h.yaml" > "$dir/t.log" 2>&1; then
    ok "hamletd -t accepts the out-of-tree module"
else
    notok "hamletd -t accepts the out-of-tree module"; sed 's/^/# /' "$dir/t.log"
fi
printf 'module_path: ["%s"]\nmodules: [example]\nexample:\n  rply: hi\n' "$dir" > "$dir/bad.yaml"
out=$("$top_builddir/core/hamletd" -t -c "$dir/bad.yaml" 2>&1 | head -1)
[ "$out" = "hamletd: module example: $dir/bad.yaml:4:3: example.rply: unknown key" ] &&
    ok "its keys are validated" || { notok "its keys are validated"; echo "# $out"; }

done_testing
