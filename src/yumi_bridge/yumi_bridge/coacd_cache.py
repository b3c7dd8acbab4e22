"""Convex decomposition of object meshes with CoACD, cached on disk.

MuJoCo (like every rigid-body engine) collides meshes by their convex hulls, so a concave object would otherwise
collide as its solid hull and fingers could never enter a handle or a cavity. CoACD is slow, so the parts are
cached per mesh and settings. It runs in a child process (`python -m yumi_bridge.coacd_cache`, which imports
only numpy and coacd): its bundled spdlog clashes with rclpy's when loaded first in the same process (segfault),
and a child can be timed out.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import trimesh

COACD_VERSION_KEY = "coacd-1.0.14"  # part of the cache key: a different CoACD may decompose differently
DEFAULT_THRESHOLD = 0.05
DEFAULT_MAX_PARTS = 16


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gqcnn-ros2" / "coacd"


def convex_parts(
    mesh: trimesh.Trimesh,
    threshold: float = DEFAULT_THRESHOLD,
    max_parts: int = DEFAULT_MAX_PARTS,
    cache_dir: str | Path | None = None,
    timeout: float = 600.0,
) -> list[np.ndarray]:
    """Vertex arrays of the convex parts of `mesh` (its own frame), from the cache or a CoACD run.

    A convex mesh is its own single part. The cache key is a hash of the vertices, faces and CoACD settings
    (`threshold`: concavity, smaller gives more and tighter parts; `max_parts`: upper bound on their number).
    CoACD aborts on some degenerate meshes; it is then run once more with its manifold remeshing forced on.
    Raises RuntimeError if that fails too, or times out.
    """
    hull = mesh.convex_hull
    if mesh.is_convex or (mesh.is_volume and mesh.volume > 0.995 * hull.volume):
        return [np.asarray(hull.vertices, dtype=float)]
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(mesh.vertices, dtype=np.float64).tobytes())
    digest.update(np.ascontiguousarray(mesh.faces, dtype=np.int64).tobytes())
    digest.update(f"{COACD_VERSION_KEY}:{threshold}:{max_parts}".encode())
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    cache_file = cache_dir / f"{digest.hexdigest()[:32]}.npz"
    if not cache_file.is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
            source, target = Path(tmp) / "mesh.npz", Path(tmp) / "parts.npz"
            np.savez(source, vertices=np.asarray(mesh.vertices, float), faces=np.asarray(mesh.faces, np.int64))
            errors = []
            for preprocess in ("auto", "on"):
                error = _run_worker(source, target, threshold, max_parts, preprocess, timeout)
                if error is None:
                    break
                errors.append(f"preprocess {preprocess}: {error}")
            else:
                raise RuntimeError("CoACD could not decompose the mesh (" + "; ".join(errors) + ")")
            os.replace(target, cache_file)  # atomic: concurrent runs never see half a file
    with np.load(cache_file) as data:
        return np.split(data["vertices"], np.cumsum(data["counts"])[:-1])


def _run_worker(
    source: Path, target: Path, threshold: float, max_parts: int, preprocess: str, timeout: float
) -> str | None:
    """Run `main` in a child process; None on success, else what went wrong."""
    command = [sys.executable, "-m", "yumi_bridge.coacd_cache"]
    command += [str(source), str(target), str(threshold), str(max_parts), preprocess]
    # The child must find this package wherever it was imported from (installed, or a source tree on sys.path).
    package_root = str(Path(__file__).parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    try:
        run = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False, env=env)
    except subprocess.TimeoutExpired:
        return f"no result within {timeout:.0f} s"
    if run.returncode != 0 or not target.is_file():
        return f"exit {run.returncode}: {run.stderr.strip()[-300:]}"
    return None


def main(argv: list[str] | None = None) -> None:
    """Child process: decompose the mesh in SOURCE.npz (vertices, faces) into TARGET.npz (vertices, counts)."""
    import coacd

    source, target, threshold, max_parts, preprocess = (argv if argv is not None else sys.argv[1:])[:5]
    with np.load(source) as mesh:
        vertices, faces = mesh["vertices"], mesh["faces"]
    coacd.set_log_level("error")
    parts = coacd.run_coacd(
        coacd.Mesh(vertices, faces),
        threshold=float(threshold),
        max_convex_hull=int(max_parts),
        preprocess_mode=preprocess,
        seed=0,
    )
    np.savez(
        target,
        vertices=np.concatenate([np.asarray(v, float) for v, _ in parts]),
        counts=np.array([len(v) for v, _ in parts]),
    )


if __name__ == "__main__":
    main()
