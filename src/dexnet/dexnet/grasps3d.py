"""A set of parallel-jaw grasps on an object: the type antipodal sampling produces and robust quality scores."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Grasps3D:
    """N parallel-jaw grasps on an object, as parallel arrays in one frame (metres).

    centers (N, 3): midpoint between the jaws' contacts; axes (N, 3): unit grasp axes pointing from
    contact 0 to contact 1 (jaw 0 closes along +axis); widths (N,): distance between the contacts;
    contacts (N, 2, 3): where each jaw touches the object.
    """

    centers: np.ndarray
    axes: np.ndarray
    widths: np.ndarray
    contacts: np.ndarray

    def __post_init__(self) -> None:
        self.centers = np.asarray(self.centers, dtype=float).reshape(-1, 3)
        self.axes = np.asarray(self.axes, dtype=float).reshape(-1, 3)
        self.widths = np.asarray(self.widths, dtype=float).reshape(-1)
        self.contacts = np.asarray(self.contacts, dtype=float).reshape(-1, 2, 3)
        n = len(self.centers)
        if not len(self.axes) == len(self.widths) == len(self.contacts) == n:
            raise ValueError(
                f"Grasps3D arrays disagree in length: centers {n}, axes {len(self.axes)}, "
                f"widths {len(self.widths)}, contacts {len(self.contacts)}"
            )

    @classmethod
    def empty(cls) -> Grasps3D:
        return cls(np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0), np.zeros((0, 2, 3)))

    def __len__(self) -> int:
        return len(self.centers)

    def __getitem__(self, index: int | slice | np.ndarray | list) -> Grasps3D:
        """A subset (always a Grasps3D): an int, slice, integer array or boolean mask."""
        if isinstance(index, int | np.integer):
            index = [int(index)]
        return Grasps3D(self.centers[index], self.axes[index], self.widths[index], self.contacts[index])

    def transformed(self, transform: np.ndarray) -> Grasps3D:
        """The grasps moved by a 4x4 rigid transform (e.g. object frame -> table frame of a stable pose)."""
        transform = np.asarray(transform, dtype=float)
        rotation, translation = transform[:3, :3], transform[:3, 3]
        return Grasps3D(
            self.centers @ rotation.T + translation,
            self.axes @ rotation.T,
            self.widths.copy(),
            self.contacts @ rotation.T + translation,
        )
