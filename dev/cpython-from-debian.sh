#!/usr/bin/env bash
# CPython of one series (3.14, or an exact 3.14.10) from Debian's archive, for
# a machine that reaches only the package registries: no python.org, no
# GitHub, so neither pyenv nor a python.org build can be had.
#
#   dev/cpython-from-debian.sh [--source|--binary] 3.14
#
# It looks for the newest pythonX.Y source package in sid, then experimental,
# then testing; every index is checked from the archive's signed InRelease
# (gpgv, Debian's archive keyring) down to the file: InRelease -> Sources.xz
# -> the upstream tarball (SHA-256). An InRelease past its Valid-Until is
# warned about, not refused (mirrors that serve a snapshot have only those):
# its signature still proves what Debian published, not that it is current.
# Then, by default (no flag):
#
# * the source route: the package's orig tarball, which is CPython's upstream
#   tarball, is built (no PGO/LTO) and installed with `make altinstall`;
# * the binary route, when the archive does not serve that tarball: Debian's
#   own build, pythonX.Y and pythonX.Y-venv with their libraries (the
#   distribution's newer C library among them), resolved and verified by apt
#   against the same signed index, unpacked side by side; the interpreter is
#   pointed at that C library (patchelf), ensurepip at its own pip wheel,
#   and pip is installed in it as in the source route's build.
#
# --source or --binary takes that route only. Either way the result lands in
# ${PYENV_ROOT:-$HOME/.pyenv}/versions/<version> (the binary route's in
# <version>-debian), where the Makefile's RUNTIME_PYTHON finds it, and only
# after its ssl, ctypes, sqlite3, lzma, bz2 and zlib modules, pip, and venv
# with pip work. An interpreter of the series already there that passes these
# checks is used as it is: nothing is fetched (one this script made that no
# longer passes is replaced). The interpreter's path is the one line on stdout; progress and
# the one-line error on failure go to stderr. Build deps and the tools come
# from apt when missing (root, or sudo).
#
# Environment: DEBIAN_MIRROR (http://deb.debian.org/debian), DEBIAN_SUITES
# ("sid experimental testing"), DEBIAN_KEYRING, PYENV_ROOT.
set -euo pipefail

me=cpython-from-debian
die() { echo "$me: $*" >&2; exit 1; }
note() { echo "$me: $*" >&2; }

mode=auto
spec=""
for arg in "$@"; do
  case "$arg" in
    --source) mode=source ;;
    --binary) mode=binary ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    3.*) spec=$arg ;;
    *) die "unknown argument '$arg' (usage: $0 [--source|--binary] 3.X[.Y])" ;;
  esac
done
[[ "$spec" =~ ^3\.[0-9]+(\.[0-9]+)?$ ]] || die "give a CPython series like 3.14, or a version like 3.14.10 (usage: $0 [--source|--binary] 3.X[.Y])"
series=$(cut -d. -f1,2 <<<"$spec")
exact=""; [ "$spec" = "$series" ] || exact=$spec
pkg=python$series

mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
suites=${DEBIAN_SUITES:-sid experimental testing}
keyring=${DEBIAN_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}
versions=${PYENV_ROOT:-$HOME/.pyenv}/versions

# Prints nothing and succeeds when $1 is a CPython $series whose extension
# modules and venv + pip work; else prints what failed.
check_python() {
  local py=$1 venv
  "$py" - "$series" <<'EOF' 2>&1 || return 1
import sys
if "%d.%d" % sys.version_info[:2] != sys.argv[1]:
    sys.exit("it is Python %s, not %s" % (sys.version.split()[0], sys.argv[1]))
failed = []
for name, use in [
    ("ssl", lambda m: m.create_default_context()),
    ("ctypes", lambda m: m.CDLL(None)),
    ("sqlite3", lambda m: m.connect(":memory:").execute("select 1").fetchone()),
    ("lzma", lambda m: m.decompress(m.compress(b"x"))),
    ("bz2", lambda m: m.decompress(m.compress(b"x"))),
    ("zlib", lambda m: m.decompress(m.compress(b"x"))),
    ("ensurepip", lambda m: m.version()),
    ("venv", lambda m: m.EnvBuilder),
]:
    try:
        use(__import__(name))
    except Exception as e:
        failed.append("%s (%s: %s)" % (name, type(e).__name__, e))
if failed:
    sys.exit("not working: " + ", ".join(failed))
EOF
  "$py" -m pip --version >/dev/null 2>&1 || { echo "no pip (python$series -m pip, as sam build runs it)"; return 1; }
  venv=$(mktemp -d "${TMPDIR:-/tmp}/$me-venv.XXXXXX")
  if ! { "$py" -m venv "$venv" && "$venv/bin/python" -m pip --version; } >"$venv.log" 2>&1; then
    echo "venv with pip: $(tail -n 1 "$venv.log")"
    rm -rf "$venv" "$venv.log"
    return 1
  fi
  rm -rf "$venv" "$venv.log"
}

# An interpreter of the series (or of that exact version) already installed.
installed() {
  local d py
  while IFS= read -r d; do
    [ -z "$exact" ] || [ "${d##*/}" = "$exact" ] || [ "${d##*/}" = "$exact-debian" ] || continue
    py=$d/bin/python$series
    [ -x "$py" ] && check_python "$py" >/dev/null && { echo "$py"; return 0; }
  done < <(printf '%s\n' "$versions/$series".* | sort -rV)
  return 1
}

# CPython's version from a Debian version: 1:3.14.0~rc3-1+b1 -> 3.14.0rc3.
upstream_of() {
  local u=${1#*:}
  u=${u%-*}; u=${u%%+*}
  echo "${u/\~/}"
}

if py=$(installed); then
  note "CPython $("$py" -c 'import sys; print(sys.version.split()[0])') is already there"
  echo "$py"
  exit 0
fi

mkdir -p "$versions" || die "cannot create $versions"
exec 9>"$versions/.$me.lock"
flock 9 || die "cannot lock $versions/.$me.lock"
if py=$(installed); then echo "$py"; exit 0; fi   # another run just made it

sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
# apt-get install of the Debian packages $@ that are not installed yet.
need_debs() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  note "installing ${missing[*]} (apt)"
  { $sudo apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 \
    || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q "${missing[@]}" >/dev/null; }; } \
    || die "could not install ${missing[*]} with apt-get (as root or with sudo)"
}
need_debs curl xz-utils gpgv debian-archive-keyring
[ -r "$keyring" ] || die "no archive keyring at $keyring"

work=$(mktemp -d "${TMPDIR:-/tmp}/$me.XXXXXX")
stage=""
cleanup() { rm -rf "$work"; [ -z "$stage" ] || rm -rf "$stage"; }
trap cleanup EXIT

# fetch URL FILE SECONDS: the HTTP status on stdout (000 when none came).
fetch() {
  curl -sS -L --connect-timeout 20 -m "$3" --retry 3 --retry-delay 2 \
    -o "$2" -w '%{http_code}' "$1" 2>"$work/curl.err" || true
}
# What went wrong with fetch URL, given the status it printed.
fetch_failed() {
  if [ "$2" = 000 ]; then
    echo "could not fetch $1 ($(tail -n 1 "$work/curl.err"))"
  else
    echo "could not fetch $1 (HTTP $2)"
  fi
}
# The install directory $1, which no working interpreter holds: one an earlier
# run of this script made is replaced, anything else is left alone.
clear_prefix() {
  [ -e "$1" ] || return 0
  [ -f "$1/.$me" ] || die "$1 exists but is no working CPython $series: remove it and run again"
  note "replacing $1 (an earlier run's, which no longer passes the checks)"
  rm -rf "$1"
}
sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# The newest pythonX.Y source (or the one of that exact version) of the first
# suite that has one.
suite="" debver="" srcdir="" orig="" orig_sha="" orig_size=""
for s in $suites; do
  code=$(fetch "$mirror/dists/$s/InRelease" "$work/$s.InRelease" 120)
  [ "$code" = 200 ] || die "$(fetch_failed "$mirror/dists/$s/InRelease" "$code")"
  gpgv --keyring "$keyring" --output "$work/$s.Release" "$work/$s.InRelease" 2>"$work/gpgv.log" \
    || die "the signature of $s's InRelease does not verify against $keyring: $(grep -m1 -E 'BAD|NO_PUBKEY|no valid|Can.t check' "$work/gpgv.log" || tail -n 1 "$work/gpgv.log")"
  note "$s: InRelease signed by $(sed -n 's/.*Good signature from "\([^"]*\)".*/\1/p' "$work/gpgv.log" | head -n 1)"
  until=$(sed -n 's/^Valid-Until: //p' "$work/$s.Release")
  if [ -n "$until" ] && [ "$(date -u -d "$until" +%s)" -lt "$(date -u +%s)" ]; then
    note "warning: $s's InRelease expired at $until (the mirror here serves an old snapshot): the signature and hashes prove what Debian published, not that it is current"
  fi
  want=$(awk '/^SHA256:/ {p = 1; next} /^[^ ]/ {p = 0} p && $3 == "main/source/Sources.xz" {print $1 " " $2}' "$work/$s.Release")
  [ -n "$want" ] || die "$s's InRelease lists no SHA-256 for main/source/Sources.xz"
  code=$(fetch "$mirror/dists/$s/main/source/Sources.xz" "$work/$s.Sources.xz" 600)
  [ "$code" = 200 ] || die "$(fetch_failed "$mirror/dists/$s/main/source/Sources.xz" "$code")"
  [ "$(sha256_of "$work/$s.Sources.xz") $(stat -c %s "$work/$s.Sources.xz")" = "$want" ] \
    || die "$s's main/source/Sources.xz does not match the SHA-256 and size in its signed InRelease"
  # One line per source version: version, pool directory, orig tarball, its SHA-256 and size.
  xz -dc "$work/$s.Sources.xz" | awk -v pkg="$pkg" '
    /^Package: / {p = ($2 == pkg); v = d = o = h = n = ""; extra = 0; c = 0}
    !p {next}
    /^Version: / {v = $2}
    /^Directory: / {d = $2}
    /^Extra-Source-Only: yes/ {extra = 1}
    /^[^ ]/ {c = /^Checksums-Sha256:/}
    c && /^ / && $3 ~ /\.orig\.tar\.[a-z0-9]+$/ {h = $1; n = $2; o = $3}
    /^$/ && p && v != "" && !extra {print v, d, o, h, n; p = 0}
    END {if (p && v != "" && !extra) print v, d, o, h, n}' >"$work/$s.found"
  while read -r v d o h n; do
    if [ -n "$exact" ]; then
      [ "$(upstream_of "$v")" = "$exact" ] || continue
    fi
    if [ -z "$debver" ] || dpkg --compare-versions "$v" gt "$debver"; then
      debver=$v srcdir=$d orig=$o orig_sha=$h orig_size=$n
    fi
  done <"$work/$s.found"
  if [ -n "$debver" ]; then suite=$s; break; fi
  note "$s has no ${exact:+$exact of }$pkg"
done
[ -n "$debver" ] || die "no ${exact:+$exact of }$pkg source package in Debian's $suites"
upstream=$(upstream_of "$debver")
note "$suite: $pkg $debver (CPython $upstream)"

route=$mode
if [ "$mode" != binary ]; then
  [ -n "$orig" ] || die "$pkg $debver in $suite lists no orig tarball"
  code=$(fetch "$mirror/$srcdir/$orig" "$work/$orig" 900)
  if [ "$code" = 200 ]; then
    route=source
  elif [ "$mode" = auto ] && [ "$code" = 404 ]; then
    note "the archive does not serve $srcdir/$orig (HTTP 404): taking Debian's binary packages instead"
    route=binary
  else
    die "$(fetch_failed "$mirror/$srcdir/$orig" "$code")"
  fi
fi

if [ "$route" = source ]; then
  [ "$(sha256_of "$work/$orig") $(stat -c %s "$work/$orig")" = "$orig_sha $orig_size" ] \
    || die "$orig does not match the SHA-256 and size in $suite's signed Sources index"
  note "$orig: SHA-256 $orig_sha matches $suite's Sources"
  need_debs build-essential pkg-config libssl-dev libffi-dev zlib1g-dev libbz2-dev \
    liblzma-dev libsqlite3-dev libreadline-dev libncurses-dev uuid-dev
  name=$upstream
  prefix=$versions/$name
  clear_prefix "$prefix"
  mkdir -p "$work/src"
  tar -xf "$work/$orig" -C "$work/src" || die "could not unpack $orig"
  src=$(find "$work/src" -mindepth 1 -maxdepth 1 -type d | head -n 1)
  [ -x "$src/configure" ] || die "$orig holds no CPython source tree (no configure)"
  log=${XDG_CACHE_HOME:-$HOME/.cache}/$me/build-$name.log
  mkdir -p "${log%/*}"
  : >"$log"
  stage=$versions/.$name.partial
  rm -rf "$stage"
  started=$(date +%s)
  build_step() {
    note "$1 (log: $log)"
    shift
    (cd "$src" && "$@") >>"$log" 2>&1 || { tail -n 25 "$log" >&2; die "CPython $upstream: '$*' failed; see $log"; }
  }
  build_step "configure" ./configure --prefix="$prefix" --with-ensurepip=install --disable-test-modules
  build_step "make -j$(nproc)" make -j"$(nproc)"
  build_step "make altinstall" make altinstall DESTDIR="$stage"
  mv "$stage$prefix" "$prefix"
  rm -rf "$stage"; stage=""
  note "built in $(( $(date +%s) - started )) s"
  from="$mirror/$srcdir/$orig (SHA-256 $orig_sha)"
else
  need_debs apt dpkg patchelf
  arch=$(dpkg --print-architecture)
  apt_dir=$work/apt
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$apt_dir/empty"
  : >"$apt_dir/status"
  echo "deb [signed-by=$keyring] $mirror $suite main" >"$apt_dir/sources.list"
  # A private apt: its own lists, cache and an empty dpkg status (so the whole
  # dependency closure is fetched); the host's apt state is not touched.
  cat >"$apt_dir/apt.conf" <<EOF
Dir::Etc::SourceList "$apt_dir/sources.list";
Dir::Etc::SourceParts "$apt_dir/empty";
Dir::Etc::PreferencesParts "$apt_dir/empty";
Dir::Etc::Preferences "$apt_dir/none";
Dir::Etc::TrustedParts "$apt_dir/empty";
Dir::State::Lists "$apt_dir/lists";
Dir::State::status "$apt_dir/status";
Dir::Cache "$apt_dir/cache";
Dir::Cache::Archives "$apt_dir/archives";
Dir::Log "$apt_dir";
APT::Architecture "$arch";
APT::Architectures { "$arch"; };
APT::Install-Recommends "false";
Acquire::Languages "none";
Acquire::IndexTargets::deb::DEP-11::DefaultEnabled "false";
Acquire::Retries "3";
Acquire::http::Timeout "60";
Acquire::Check-Valid-Until "false";
Debug::NoLocking "true";
EOF
  # (Check-Valid-Until: the expiry was checked, and warned about, above.)
  export APT_CONFIG=$apt_dir/apt.conf
  if ! apt-get -q update >"$apt_dir/update.log" 2>&1 || grep -qE '^(E:|Err:|W: GPG)' "$apt_dir/update.log"; then
    die "apt could not fetch or verify $suite's package index: $(grep -m1 -E '^(E:|Err:|W: GPG)' "$apt_dir/update.log" || tail -n 1 "$apt_dir/update.log")"
  fi
  apt-get -q -y install --download-only "$pkg" "$pkg-venv" >"$apt_dir/install.log" 2>&1 \
    || die "apt could not fetch $pkg and $pkg-venv from $suite: $(grep -m1 '^E:' "$apt_dir/install.log" || tail -n 1 "$apt_dir/install.log")"
  unset APT_CONFIG
  debs=("$apt_dir/archives/"*.deb)
  minimal=("$apt_dir/archives/$pkg-minimal_"*.deb)
  [ -f "${minimal[0]}" ] || die "apt fetched no $pkg-minimal package"
  binver=$(dpkg-deb -f "${minimal[0]}" Version)
  upstream=$(upstream_of "$binver")
  [ -z "$exact" ] || [ "$upstream" = "$exact" ] \
    || die "$suite's binary $pkg is $binver, not $exact (only its source is that version)"
  name=$upstream-debian
  prefix=$versions/$name
  clear_prefix "$prefix"
  note "unpacking $pkg $binver and its $(( ${#debs[@]} - 1 )) dependencies ($suite, verified by apt)"
  mkdir -p "$work/root"
  for deb in "${debs[@]}"; do
    dpkg-deb -x "$deb" "$work/root" || die "could not unpack ${deb##*/}"
  done
  stage=$versions/.$name.partial
  rm -rf "$stage"
  mv "$work/root/usr" "$stage"
  py=$stage/bin/$pkg
  [ -x "$py" ] || die "$pkg $binver has no usr/bin/$pkg"
  # Only the interpreter in bin/: the distribution's other programs (openssl,
  # ldd, ...) would not run here, and pyenv would make shims of them.
  find "$stage/bin" -mindepth 1 -maxdepth 1 ! -name "$pkg" -exec rm -rf {} +
  rm -rf "$stage/sbin"
  rm -rf "$stage/share/doc" "$stage/share/man" "$stage/share/lintian" "$stage/share/locale"
  # The unpacked usr/ becomes the prefix: a path /usr/X (or, merged /usr, /X) is $prefix/X.
  interp=$(patchelf --print-interpreter "$py") || die "patchelf cannot read $py"
  interp=${interp#/usr}
  [ -e "$stage$interp" ] || die "$pkg's loader $interp is not in the unpacked C library"
  libc=("$stage"/lib/*/libc.so.6)
  [ -f "${libc[0]}" ] || die "the unpacked packages hold no libc.so.6"
  libdir=${libc[0]%/*}; libdir=$prefix/lib/${libdir##*/}
  # The loader and the libraries of the unpacked distribution, for the
  # interpreter and (DT_RPATH, not RUNPATH) every extension module it loads.
  patchelf --set-interpreter "$prefix$interp" --force-rpath --set-rpath "$libdir" "$py" \
    || die "patchelf could not point $py at its C library"
  # ensurepip's wheels: the unpacked ones, not the host's /usr/share/python-wheels.
  wheels=$(sed -n "s/^ *'WHEEL_PKG_DIR': '\(.*\)',\$/\1/p" "$stage/lib/$pkg"/_sysconfigdata_*.py | head -n 1)
  if [ -z "$wheels" ] || [ ! -d "$stage${wheels#/usr}" ]; then
    die "$pkg-venv's wheel directory ${wheels:-(WHEEL_PKG_DIR)} is not in the unpacked packages"
  fi
  sed -i "s|'$wheels|'$prefix${wheels#/usr}|g; s|\"$wheels|\"$prefix${wheels#/usr}|g" "$stage/lib/$pkg"/_sysconfigdata_*.py "$stage/lib/$pkg"/_sysconfig_vars_*.json
  wheels=${wheels#/usr}
  # Debian's sitecustomize is a link into /etc/pythonX.Y, which is not here.
  [ -e "$stage/lib/$pkg/sitecustomize.py" ] || rm -f "$stage/lib/$pkg/sitecustomize.py"
  mv "$stage" "$prefix"
  stage=""
  # pip in the interpreter itself, as in a pyenv or `make altinstall` build
  # (sam build runs pythonX.Y -m pip). Debian's ensurepip refuses outside a
  # venv, so pip installs itself from the unpacked wheel, into the prefix's
  # local/lib/pythonX.Y/dist-packages (Debian's scheme for what is not its).
  pip_whl=("$prefix$wheels"/pip-*.whl)
  [ -f "${pip_whl[0]}" ] || { rm -rf "$prefix"; die "no pip wheel in $prefix$wheels"; }
  "$prefix/bin/$pkg" "${pip_whl[0]}/pip" install --quiet --no-index --no-warn-script-location \
      --break-system-packages "${pip_whl[0]}" >"$work/pip.log" 2>&1 \
    || { rm -rf "$prefix"; die "pip would not install itself into $prefix: $(tail -n 1 "$work/pip.log")"; }
  from="Debian $suite's $pkg $binver binary packages (signed index, verified by apt)"
fi

py=$prefix/bin/$pkg
if ! why=$(check_python "$py"); then
  rm -rf "$prefix"
  die "the CPython $upstream installed at $prefix does not work, removed: ${why##*$'\n'}"
fi
printf 'CPython %s from %s, %s route, %s\n' "$upstream" "${from:-}" "$route" "$(date -u +%FT%TZ)" >"$prefix/.$me"
note "CPython $upstream is ready: $py"
echo "$py"
