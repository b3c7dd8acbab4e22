# Source this file (bash or zsh) to use the workspace: `source env.sh`.
# It activates .venv, makes the ROS 2 wheels discoverable (or keeps the sourced system ROS 2), and
# overlays the colcon install space, so `python -c "import rclpy, dexnet_msgs"` works.
_gq_root=$(cd "$(dirname "${BASH_SOURCE[0]:-${(%):-%x}}")" && pwd)
# shellcheck disable=SC1091
. "$_gq_root/.venv/bin/activate"
if [ -z "${ROS_DISTRO:-}" ]; then
  # The wheels install into the venv prefix; ament's typesupport discovery looks there via these.
  case ":${AMENT_PREFIX_PATH:-}:" in *":$VIRTUAL_ENV:"*) ;; *)
    export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}";; esac
  case ":${CMAKE_PREFIX_PATH:-}:" in *":$VIRTUAL_ENV:"*) ;; *)
    export CMAKE_PREFIX_PATH="$VIRTUAL_ENV${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}";; esac
fi
export RMW_IMPLEMENTATION=${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}
if [ "${1:-}" != --no-workspace ] && [ -f "$_gq_root/install/local_setup.sh" ]; then
  COLCON_CURRENT_PREFIX="$_gq_root/install" . "$_gq_root/install/local_setup.sh"
fi
# Console scripts (gqcnn-plan, the node executables) live where `ros2 run` looks for them.
for _gq_lib in "$_gq_root"/install/*/lib/gqcnn_planner "$_gq_root"/install/*/lib/yumi_bridge; do
  [ -d "$_gq_lib" ] && case ":$PATH:" in *":$_gq_lib:"*) ;; *) PATH="$_gq_lib:$PATH";; esac
done
export PATH
unset _gq_root _gq_lib
