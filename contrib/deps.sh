# contrib/deps.sh: the Debian packages hamlet needs to build and test, and a
# function that installs the missing ones.  Sourced by contrib/quickstart.sh
# and t/check.sh (one list for both).
#
#   build:     build-essential autoconf automake pkg-config, and the libraries
#              libevent, libyaml, jansson, OpenSSL, msgpack-c, zlib, ISA-L (-dev)
#   tests:     serf (the interop partner), iproute2 + nftables (network
#              namespaces, packet loss), clang + libclang-rt (fuzzing,
#              sanitizers), valgrind, python3-msgpack (wire tools)
#   reference: the Go sources of memberlist and serf (read when a byte matters)
HAMLET_DEPS="build-essential autoconf automake pkg-config libevent-dev libyaml-dev
libjansson-dev libssl-dev libmsgpack-dev zlib1g-dev libisal-dev serf iproute2 nftables clang
libclang-rt-14-dev valgrind python3-msgpack golang-github-hashicorp-memberlist-dev
golang-github-hashicorp-serf-dev"

# hamlet_deps_missing: prints the packages of HAMLET_DEPS not installed
hamlet_deps_missing() {
    for p in $HAMLET_DEPS; do
        if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed"; then
            printf '%s ' "$p"
        fi
    done
}

# hamlet_deps_install: apt-get installs what is missing (sudo only when not root)
hamlet_deps_install() {
    missing=$(hamlet_deps_missing)
    [ -z "$missing" ] && return 0
    echo "==> installing: $missing"
    if [ "$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            $missing
}

# hamlet_build: autoreconf, configure (once) and build in the source tree
hamlet_build() {
    if [ ! -x configure ] || [ configure.ac -nt configure ]; then
        autoreconf -fi || return 1
    fi
    if [ ! -f Makefile ]; then
        ./configure "$@" || return 1
    fi
    make -j2
}
