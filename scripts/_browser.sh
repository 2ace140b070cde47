# Sourced by scripts/test: the dashboard's browser tests drive Debian's Chromium through Playwright
# (not a browser Playwright downloads). A machine without /usr/bin/chromium gets Debian's package
# (apt-get, with sudo when not root) and a font, without its recommends (printing, power daemons).
# Nothing here stops the run: without Chromium the browser tests fail on their own, with the reason.
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null; then
    echo "installing chromium for the dashboard's browser tests" >&2
    _sudo=()
    [ "$(id -u)" -eq 0 ] || _sudo=(sudo)
    { "${_sudo[@]}" apt-get update -qq &&
        "${_sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null; } ||
        echo "warning: could not install chromium; the dashboard's browser tests will fail" >&2
    unset _sudo
fi
export DURABLETASK_EMULATOR_CHROMIUM="${DURABLETASK_EMULATOR_CHROMIUM:-/usr/bin/chromium}"
