# Sourced by scripts/test and scripts/sdk-matrix: the other SDKs' suites need go, mvn, node and npm.
# A machine without one gets Debian's package (apt-get, as root); their own packages (Go modules,
# Maven artifacts, npm packages) are fetched by the suites themselves on first use, then cached.
_missing=()
command -v go >/dev/null || _missing+=(golang-go)
command -v mvn >/dev/null || _missing+=(maven)
command -v node >/dev/null || _missing+=(nodejs)
command -v npm >/dev/null || _missing+=(npm)
if [ "${#_missing[@]}" -gt 0 ] && command -v apt-get >/dev/null; then
    echo "installing ${_missing[*]} for the SDK suites" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${_missing[@]}" >/dev/null
fi
unset _missing
