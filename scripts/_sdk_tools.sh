# Sourced by scripts/test and scripts/sdk-matrix: the other SDKs' suites need go (1.21+), mvn,
# node (20+) and npm. A machine without one gets Debian's package (apt-get, as root); their own
# packages (Go modules, Maven artifacts, npm packages) are fetched by the suites on first use and
# then cached. Nothing here stops the run: a suite whose toolchain is missing or too old fails on
# its own, with the reason, and `scripts/test -m "not sdk"` needs none of them.
_missing=()
command -v go >/dev/null || _missing+=(golang-go)
command -v mvn >/dev/null || _missing+=(maven)
command -v node >/dev/null || _missing+=(nodejs)
command -v npm >/dev/null || _missing+=(npm)
if [ "${#_missing[@]}" -gt 0 ] && command -v apt-get >/dev/null; then
    echo "installing ${_missing[*]} for the SDK suites" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${_missing[@]}" >/dev/null; } ||
        echo "warning: could not install ${_missing[*]}; the SDK suites that need them will fail" >&2
fi
_too_old() {  # _too_old NAME HAVE NEED: warn when version HAVE is below NEED
    if [ -n "$2" ] && [ "$(printf '%s\n%s\n' "$3" "$2" | sort -V | head -1)" != "$3" ]; then
        echo "warning: $1 $2 is older than $3, which its SDK suite needs" >&2
    fi
}
command -v go >/dev/null && _too_old go "$(go env GOVERSION 2>/dev/null | sed 's/^go//')" 1.21
command -v node >/dev/null && _too_old node "$(node --version 2>/dev/null | sed 's/^v//')" 20
unset _missing
unset -f _too_old
