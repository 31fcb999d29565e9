# Sourced by the bench scripts: `need TOOL PACKAGE` makes sure TOOL is on the
# PATH, installing the Debian PACKAGE with apt-get when running as root;
# returns non-zero (the caller says what to do) when it still is not there.
need() {
  command -v "$1" >/dev/null && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "$1 is missing: installing $2 with apt-get" >&2
    apt-get update -qq && apt-get install -y -qq "$2" >/dev/null || true
  fi
  command -v "$1" >/dev/null
}
