#!/usr/bin/env bash
# The libtorch 2.x lane: builds and tests nodetorch against Debian 13 (trixie)'s libtorch-dev
# (2.6) and Node 20 in a debootstrapped chroot, while the host keeps Debian 12's libtorch 1.13.
# The addon is built once, by `npm run prebuild`, and every test runs on that prebuilt binary; it
# is copied back to the host's prebuilds/ and packed, next to the host's 1.13 prebuild, into an
# npm tarball that is installed and trained from in the root with no compiler on PATH.
#
# usage: scripts/libtorch2-lane.sh [options]
#   (no options)     set up the root if needed, copy the working tree's files, npm ci, npm run prebuild, the tests
#   --setup-only     only create/update the Debian 13 root
#   --no-test        stop after the build (npm ci, npm run prebuild)
#   --shell          open a shell in the root (in the copied tree) instead of building
#   --recreate       delete the root and debootstrap it again
#   --untracked      also copy untracked files that git does not ignore (new files not yet added)
#   --head           test the committed HEAD (git archive) instead of the working tree
#   -- ARGS...       extra arguments for jest (e.g. -- test/tensor.test.ts -t matmul)
#
# environment:
#   NODETORCH_LANE_ROOT    the root (default /var/cache/nodetorch/trixie); reused when complete
#   NODETORCH_LANE_MIRROR  the Debian mirror (default: the one this machine's apt uses)
#   NODETORCH_LANE_JOBS    parallel compile jobs (default 2)
#   NODETORCH_LANE_CCACHE  0 compiles without ccache (default: ccache, its cache kept in the root)
#   NODETORCH_LANE_NPM_CI  1 always runs npm ci (default: the previous run's node_modules is kept
#                          when package-lock.json, node and npm are unchanged; npm ci otherwise)
#
# Files copied: what git tracks, as they are in the working tree (so local edits are tested);
# they go to /work/nodetorch inside the root, replacing the previous copy. npm's cache stays in
# the root between runs, and so does ccache's (a source file compiles again only when it or a
# header or flag it depends on changed). Needs root (debootstrap, chroot, mount).
set -euo pipefail

ROOT=${NODETORCH_LANE_ROOT:-/var/cache/nodetorch/trixie}
JOBS=${NODETORCH_LANE_JOBS:-2}
SUITE=trixie
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
INNER=/work/nodetorch
# python3-torch: the Python side of the interop tests (goldens, TorchScript fixtures, a Python rank
# in a Node process group) on the lane's own libtorch; without it those tests skip in the lane.
PACKAGES=(libtorch-dev libopenblas0-openmp nodejs npm libnode-dev g++ cmake make python3 ca-certificates ccache libgloo-dev libjpeg-dev
  python3-torch)
MARK_BOOT=$ROOT/.nodetorch-lane-debootstrap-done
MARK_DONE=$ROOT/.nodetorch-lane-complete

SETUP_ONLY=0 NO_TEST=0 SHELL_ONLY=0 RECREATE=0 UNTRACKED=0 HEAD_ONLY=0 JEST_ARGS=()
while [ $# -gt 0 ]; do
  case $1 in
    --setup-only) SETUP_ONLY=1 ;;
    --no-test) NO_TEST=1 ;;
    --shell) SHELL_ONLY=1 ;;
    --recreate) RECREATE=1 ;;
    --untracked) UNTRACKED=1 ;;
    --head) HEAD_ONLY=1 ;;
    --) shift; JEST_ARGS=("$@"); break ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "libtorch2-lane: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

log() { printf '\n=== libtorch2-lane: %s\n' "$*"; }
die() { printf 'libtorch2-lane: error: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot and mount need it)"
case $ROOT in /|/usr|/var|/var/cache|/work|/work/*|"") die "refusing NODETORCH_LANE_ROOT=$ROOT" ;; esac

T0=$(date +%s)
T_SETUP=0 T_BOOT=0 T_APT=0 T_COPY=0 T_NPM=0 T_BUILD=0 T_TEST=0

# --- mounts ------------------------------------------------------------------------------------
MOUNTED=()
mounts_under_root() { # mount points at or below $ROOT, deepest first
  awk -v r="$ROOT" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/mounts | sort -r
}
unmount_all() {
  local m
  for m in $(mounts_under_root); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || echo "libtorch2-lane: could not unmount $m" >&2
  done
  MOUNTED=()
}
mount_fs() {
  mountpoint -q "$ROOT/proc" || { mount -t proc proc "$ROOT/proc"; MOUNTED+=(proc); }
  mountpoint -q "$ROOT/sys" || { mount -t sysfs sysfs "$ROOT/sys"; MOUNTED+=(sys); }
  mountpoint -q "$ROOT/dev" || { mount --bind /dev "$ROOT/dev"; MOUNTED+=(dev); }
  mkdir -p "$ROOT/dev/pts"
  mountpoint -q "$ROOT/dev/pts" || { mount --bind /dev/pts "$ROOT/dev/pts" 2>/dev/null && MOUNTED+=(dev/pts) || true; }
}

LOCK_FD=
cleanup() {
  local rc=$?
  [ ${#MOUNTED[@]} -gt 0 ] && unmount_all
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# One lane at a time per root (other agents may run it too).
mkdir -p "$(dirname "$ROOT")"
exec {LOCK_FD}>"$ROOT.lock"
if ! flock -n "$LOCK_FD"; then
  echo "libtorch2-lane: waiting for another run using $ROOT ..."
  flock "$LOCK_FD"
fi

in_root() { # run a command in the root with a clean environment
  chroot "$ROOT" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    DEBIAN_FRONTEND=noninteractive CI=1 "$@"
}

# --- the mirror this machine's apt uses ---------------------------------------------------------
find_mirror() {
  local f uri
  # deb822 .sources: "URIs:" lines; one-line .list: "deb [opts] URI suite ..."
  for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    while read -r uri; do
      uri=${uri%/}
      case $uri in *-security|*debian-security*) continue ;; esac
      case $uri in */debian) echo "$uri"; return 0 ;; esac
    done < <(awk '
      /^[[:space:]]*#/ { next }
      tolower($1) == "uris:" { for (i = 2; i <= NF; i++) print $i; next }
      $1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/ && $i !~ /=/) { print $i; break } }
    ' "$f")
  done
  return 1
}

# --- setup ---------------------------------------------------------------------------------------
setup_root() {
  local t=$(date +%s) mirror
  mirror=${NODETORCH_LANE_MIRROR:-$(find_mirror || true)}
  [ -n "$mirror" ] || die "could not find a Debian mirror in /etc/apt/sources.list*; set NODETORCH_LANE_MIRROR"

  if [ "$RECREATE" = 1 ] || { [ -e "$ROOT" ] && [ ! -e "$MARK_BOOT" ]; }; then
    log "removing the old or incomplete root $ROOT"
    unmount_all
    [ -z "$(mounts_under_root)" ] || die "something is still mounted under $ROOT; not deleting it"
    rm -rf --one-file-system "$ROOT"
  fi

  if [ ! -e "$MARK_BOOT" ]; then
    if ! command -v debootstrap >/dev/null; then
      log "installing debootstrap on the host"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 debootstrap ||
        { apt-get update -q -o DPkg::Lock::Timeout=300 &&
          DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 debootstrap; }
    fi
    log "debootstrap --variant=minbase $SUITE $ROOT $mirror"
    mkdir -p "$ROOT"
    local keyring=()
    [ -f /usr/share/keyrings/debian-archive-keyring.gpg ] &&
      keyring=(--keyring=/usr/share/keyrings/debian-archive-keyring.gpg)
    local tb=$(date +%s)
    debootstrap --variant=minbase "${keyring[@]}" "$SUITE" "$ROOT" "$mirror" ||
      { [ -f "$ROOT/debootstrap/debootstrap.log" ] && tail -30 "$ROOT/debootstrap/debootstrap.log";
        die "debootstrap failed"; }
    T_BOOT=$(( $(date +%s) - tb ))
    echo "$SUITE $mirror $(date -u +%FT%TZ)" >"$MARK_BOOT"
  fi

  # apt inside: the same mirror, no recommends, and tolerate this machine's clock/snapshot dates
  # (the host's apt is configured the same way).
  echo "deb $mirror $SUITE main" >"$ROOT/etc/apt/sources.list"
  cat >"$ROOT/etc/apt/apt.conf.d/99nodetorch-lane" <<'EOF'
Acquire::Check-Valid-Until "false";
Acquire::Check-Date "false";
APT::Install-Recommends "false";
Acquire::Languages "none";
EOF
  # A throwaway root: no fsync per file while unpacking (most of the setup time otherwise).
  echo force-unsafe-io >"$ROOT/etc/dpkg/dpkg.cfg.d/nodetorch-lane-unsafe-io"
  cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
  cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/nodetorch-host-ca.crt"

  mount_fs
  log "apt-get install ${PACKAGES[*]}"
  local ta=$(date +%s)
  if ! in_root apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"; then
    in_root apt-get update -q
    in_root apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"
  fi
  in_root apt-get clean
  T_APT=$(( $(date +%s) - ta ))

  # npm inside: the host's CA bundle, node headers from libnode-dev, the host's registry.
  local registry
  registry=$(npm config get registry 2>/dev/null || true)
  {
    echo "cafile=/etc/nodetorch-host-ca.crt"
    echo "nodedir=/usr"
    [ -n "$registry" ] && echo "registry=$registry"
    echo "fund=false"
    echo "audit=false"
    echo "update-notifier=false"
  } >"$ROOT/root/.npmrc"

  printf '%s\n' "${PACKAGES[@]}" >"$MARK_DONE"
  T_SETUP=$(( $(date +%s) - t ))
}

# Set up when there is no complete root or the package list changed since it was made.
if [ "$RECREATE" = 1 ] || [ ! -e "$MARK_DONE" ] || [ "$(cat "$MARK_DONE")" != "$(printf '%s\n' "${PACKAGES[@]}")" ]; then
  setup_root
else
  log "reusing the complete root $ROOT (--recreate to start over)"
  cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/nodetorch-host-ca.crt"
  cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
  mount_fs
fi

LIBTORCH_PKG=$(in_root dpkg-query -W -f='${Version}' libtorch-dev)
NODE_VERSION=$(in_root node --version)
NPM_VERSION=$(in_root npm --version)
log "root: Debian $(cat "$ROOT/etc/debian_version"), libtorch-dev $LIBTORCH_PKG, node $NODE_VERSION, npm $NPM_VERSION"
[ "$SETUP_ONLY" = 1 ] && { log "setup done in ${T_SETUP}s"; exit 0; }

# --- copy the working tree ------------------------------------------------------------------------
t=$(date +%s)
# node_modules as the last successful npm ci left it (its stamp: the lockfile's hash, node, npm),
# set aside to be reused when the new tree's stamp is the same.
NM_KEPT=$ROOT/var/cache/nodetorch-lane/node_modules
NM_STAMP=.nodetorch-lane-npm-ci
rm -rf --one-file-system "$NM_KEPT"
if [ -f "$ROOT$INNER/node_modules/$NM_STAMP" ] && [ "${NODETORCH_LANE_NPM_CI:-0}" != 1 ]; then
  mkdir -p "$(dirname "$NM_KEPT")"
  mv "$ROOT$INNER/node_modules" "$NM_KEPT"
fi
rm -rf --one-file-system "$ROOT$INNER"
mkdir -p "$ROOT$INNER"
if [ "$HEAD_ONLY" = 1 ]; then
  log "copying $REPO's HEAD ($(git -C "$REPO" rev-parse --short HEAD)) to $ROOT$INNER"
  git -C "$REPO" archive --format=tar HEAD | tar -xf - -C "$ROOT$INNER"
else
  others=()
  [ "$UNTRACKED" = 1 ] && others=(--others --exclude-standard)
  log "copying $REPO's working tree ($(git -C "$REPO" rev-parse --short HEAD) +" \
    "$(git -C "$REPO" status --porcelain --untracked-files=$([ "$UNTRACKED" = 1 ] && echo normal || echo no) | wc -l)" \
    "local changes) to $ROOT$INNER"
  git -C "$REPO" status --short --untracked-files=$([ "$UNTRACKED" = 1 ] && echo normal || echo no)
  ( cd "$REPO" &&
    git ls-files -z --cached "${others[@]}" |
    while IFS= read -r -d '' f; do if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi; done |
    tar --null -T - -cf - ) | tar -xf - -C "$ROOT$INNER"
fi
T_COPY=$(( $(date +%s) - t ))

if [ "$SHELL_ONLY" = 1 ]; then
  log "shell in $INNER (exit to leave; mounts are undone afterwards)"
  chroot "$ROOT" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/bash -c "cd $INNER && exec bash -i"
  exit $?
fi

# --- build: npm ci with the install step's build switched off, then `npm run prebuild` ----------------
# The one compile of the lane: prebuildify (node-gyp) writes the tagged prebuild and leaves no
# build/Release/nodetorch.node, so lib/native.ts loads the prebuild and every test runs on it.
t=$(date +%s)
STAMP="$(sha256sum <"$ROOT$INNER/package-lock.json" | cut -d' ' -f1) node $NODE_VERSION npm $NPM_VERSION"
if [ -f "$NM_KEPT/$NM_STAMP" ] && [ "$(cat "$NM_KEPT/$NM_STAMP")" = "$STAMP" ]; then
  log "node_modules from the previous run (package-lock.json, node and npm unchanged; NODETORCH_LANE_NPM_CI=1 runs npm ci); npm run prepare"
  mv "$NM_KEPT" "$ROOT$INNER/node_modules"
  in_root /bin/sh -c "cd $INNER && npm run prepare" || die "npm run prepare (tsc) failed"
else
  rm -rf --one-file-system "$NM_KEPT"
  log "npm ci (NODETORCH_SKIP_BUILD=1: the addon is built next, by npm run prebuild)"
  # npm 9 here runs dependencies' install scripts; onnxruntime-node's (a devDependency, its CPU
  # binary is in the package) would try a download, which cannot work here.
  in_root NODETORCH_SKIP_BUILD=1 ONNXRUNTIME_NODE_INSTALL=skip /bin/sh -c "cd $INNER && npm ci --no-audit --no-fund" ||
    die "npm ci failed after $(( $(date +%s) - t ))s"
  echo "$STAMP" >"$ROOT$INNER/node_modules/$NM_STAMP"
fi
T_NPM=$(( $(date +%s) - t ))

t=$(date +%s)
BUILD_ENV=(JOBS="$JOBS")
if [ "${NODETORCH_LANE_CCACHE:-1}" != 0 ]; then
  # CXX, not /usr/lib/ccache on PATH: prebuildify puts node's own folder (/usr/bin) first on PATH.
  # The cache stays in the root between runs.
  BUILD_ENV+=(CC="ccache gcc" CXX="ccache g++" CCACHE_DIR=/var/cache/ccache CCACHE_MAXSIZE=2G)
  in_root CCACHE_DIR=/var/cache/ccache ccache --zero-stats >/dev/null
fi
log "npm run prebuild (the prebuilt addon for libtorch $LIBTORCH_PKG, $JOBS jobs$([ ${#BUILD_ENV[@]} -gt 1 ] && echo ', ccache'))"
in_root "${BUILD_ENV[@]}" /bin/sh -c "cd $INNER && npm run prebuild" ||
  { T_BUILD=$(( $(date +%s) - t )); die "npm run prebuild (the native build) failed after ${T_BUILD}s against libtorch-dev $LIBTORCH_PKG"; }
T_BUILD=$(( $(date +%s) - t ))
[ ${#BUILD_ENV[@]} -gt 1 ] && echo "ccache: $(in_root CCACHE_DIR=/var/cache/ccache ccache --show-stats 2>/dev/null |
  grep -E '^ *(Hits|Misses):' | head -2 | tr -s ' ' | paste -sd,)" || true

# prebuilds/linux-x64/nodetorch.glibc.libtorch2_6.cpu.node, as scripts/prebuild.js names it
PREBUILD=$(in_root /bin/sh -c "cd $INNER && node -e \"
  const { prebuildFiles } = require('./scripts/prebuild.js');
  console.log(require('path').relative('.', prebuildFiles(require('./scripts/libtorch.js').discover()).addon));\"") ||
  die "could not name the prebuild"
[ -f "$ROOT$INNER/$PREBUILD" ] || die "npm run prebuild did not write $PREBUILD"
[ ! -e "$ROOT$INNER/build/Release/nodetorch.node" ] || die "a build/Release/nodetorch.node is left: the tests would not run on the prebuild"
TAG=$(basename "$PREBUILD" .node); TAG=${TAG#nodetorch.*.}
mkdir -p "$REPO/$(dirname "$PREBUILD")"
cp "$ROOT$INNER/$PREBUILD" "$ROOT$INNER/${PREBUILD%.node}.json" "$REPO/$(dirname "$PREBUILD")/"
log "copied $PREBUILD and its .json back to $REPO/$(dirname "$PREBUILD")/"

log "the binary the tests use"
in_root /bin/sh -c "cd $INNER && node bin/nodetorch.js info" || die "nodetorch info failed"
BUILT_AGAINST=$(in_root node -e "
  const n = require('$INNER/dist/native');
  const b = n.readBuildRecord();
  if (!n.loadedFrom.endsWith('/$PREBUILD')) throw new Error('loaded ' + n.loadedFrom + ', not the prebuild');
  console.log('libtorch used: ' + n.native.build_info().libtorchRuntime + ' (reported by ' + n.loadedFrom.replace('$INNER/', '') +
    ', built by ' + b.builtBy + ' against ' + b.libtorch.version + ' from ' + b.libtorch.source + ')');") ||
  die "loading the prebuild failed"
echo "$BUILT_AGAINST"

# --- tests ------------------------------------------------------------------------------------------
TEST_RC=0
if [ "$NO_TEST" = 0 ]; then
  t=$(date +%s)
  rm -f "$ROOT"/tmp/jest-*.json
  JEST="node --expose-gc node_modules/jest/bin/jest.js"
  # The npm tarball holds this prebuild and the host's (CI: the 1.13 one from .ci/run's
  # `npm run prebuild`); test/pack installs it here with no compiler on PATH and it must pick this one.
  TAGS=$TAG
  for f in "$REPO/$(dirname "$PREBUILD")"/nodetorch.*.node; do
    [ -f "$f" ] && [ -f "${f%.node}.json" ] || continue
    other=$(basename "$f" .node); other=${other#nodetorch.*.}
    [ "$other" = "$TAG" ] && continue
    cp "$f" "${f%.node}.json" "$ROOT$INNER/$(dirname "$PREBUILD")/"
    TAGS="$TAGS,$other"
  done
  [ "$TAGS" = "$TAG" ] &&
    echo "libtorch2-lane: no other prebuild in $REPO/prebuilds (.ci/run makes 1.13's first): the tarball holds only $TAG"
  if [ ${#JEST_ARGS[@]} -gt 0 ]; then
    log "jest ${JEST_ARGS[*]}"
    in_root NODETORCH_PACK_PREBUILDS="$TAGS" /bin/sh -c "cd $INNER && \
      $JEST --json --outputFile=/tmp/jest-1.json ${JEST_ARGS[*]}" || TEST_RC=$?
  else
    # npm test's two jest runs, spelled out so the JSON summary covers them, on the prebuild alone.
    # The examples are left out (trained end to end on 1.13; the Keras tests cover them here), and so
    # are the tuner, the HTTP service, the loader fuzz, the garbage fuzzer (errors.test.ts still sends
    # garbage to every native export here), TensorBoard, plots and ONNX export: JavaScript over APIs the
    # other suites test here (saving.test.ts covers loadModel's allocation cap), kept out so CI stays
    # under 30 minutes.
    log "npm test (jest, with the npm tarball of the prebuilds for $TAGS; then the memory tests in band)"
    in_root NODETORCH_PACK_PREBUILDS="$TAGS" /bin/sh -c "cd $INNER && \
      $JEST --json --outputFile=/tmp/jest-1.json --testPathIgnorePatterns test/memory test/examples test/prebuilds test/tuner test/serve test/io_fuzz test/fuzz test/tensorboard test/plot test/onnx && \
      $JEST --json --outputFile=/tmp/jest-2.json --runInBand test/memory" || TEST_RC=$?
    # test/prebuilds stages packages whose prebuilds are copies of build/Release/nodetorch.node, so
    # it runs last, with the prebuild's bytes put there (the runs above must not see a local build).
    log "the prebuild choice (test/prebuilds)"
    mkdir -p "$ROOT$INNER/build/Release"
    cp "$ROOT$INNER/$PREBUILD" "$ROOT$INNER/build/Release/nodetorch.node"
    in_root /bin/sh -c "cd $INNER && $JEST --json --outputFile=/tmp/jest-3.json test/prebuilds" || TEST_RC=$?
  fi
  T_TEST=$(( $(date +%s) - t ))
  in_root node -e "
    const fs = require('fs');
    const runs = [1, 2, 3].map((i) => '/tmp/jest-' + i + '.json').filter((f) => fs.existsSync(f)).map((f) => require(f));
    const sum = (k) => runs.reduce((n, r) => n + r[k], 0);
    console.log('tests: ' + sum('numPassedTests') + ' passed, ' + sum('numFailedTests') + ' failed, ' +
      sum('numPendingTests') + ' skipped, ' + sum('numTotalTests') + ' total; suites: ' + sum('numPassedTestSuites') +
      ' passed, ' + sum('numFailedTestSuites') + ' failed');
    for (const s of runs.flatMap((r) => r.testResults)) {
      if (s.status === 'failed' && !s.assertionResults.some((a) => a.status === 'failed'))
        console.log('FAILED SUITE ' + s.name + ': ' + String(s.message).split('\n').slice(0, 5).join(' | '));
      for (const a of s.assertionResults)
        if (a.status === 'failed') console.log('FAILED ' + s.name.replace('$INNER/', '') + ' > ' + a.fullName);
    }" | tee "$ROOT/tmp/jest-summary.txt" || true
fi

log "summary"
echo "libtorch-dev $LIBTORCH_PKG (Debian $(cat "$ROOT/etc/debian_version")), node $NODE_VERSION"
echo "$BUILT_AGAINST"
echo "prebuild: $PREBUILD (copied to $REPO/$(dirname "$PREBUILD")/)"
echo "timings: setup ${T_SETUP}s (debootstrap ${T_BOOT}s, apt ${T_APT}s), copy ${T_COPY}s, npm ci ${T_NPM}s, prebuild ${T_BUILD}s, tests ${T_TEST}s, total $(( $(date +%s) - T0 ))s"
[ -f "$ROOT/tmp/jest-summary.txt" ] && [ "$NO_TEST" = 0 ] && head -1 "$ROOT/tmp/jest-summary.txt"
[ "$TEST_RC" = 0 ] || die "npm test failed (exit $TEST_RC)"
log "PASS"
