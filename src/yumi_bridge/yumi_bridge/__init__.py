"""Execute planned grasps on an ABB YuMi (Robot Web Services) or a MuJoCo-simulated gripper."""
