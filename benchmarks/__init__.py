"""Speed and quality benchmarks: run from the workspace root as modules, e.g. `python -m benchmarks.sim_grasping`.

Shared pieces of the simulated benchmarks (scenes, sensor, presets, objects, statistics, galleries) live in
`benchmarks.sim_common`; each script writes its figures under benchmarks/results/.
"""
