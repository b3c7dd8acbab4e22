"""The planner's collision check: can the gripper come down to a grasp without touching what the depth image shows?

The image is read as a height field, so the check covers everything in view (neighbouring objects in a heap too),
not just the segment a grasp is on.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy import ndimage

from gqcnn_core.camera import CameraIntrinsics
from gqcnn_core.depth import missing
from gqcnn_core.gripper import Gripper
from gqcnn_planner.sampling import GraspCandidates
from gqcnn_planner.segmentation import SegmentationConfig, fit_table_plane


def table_normal(depth: np.ndarray, camera: CameraIntrinsics, max_tilt: float = np.radians(60.0),
                 min_inlier_share: float = 0.3) -> np.ndarray:
    """Unit normal of the table plane in the camera frame, pointing towards the camera: the executor approaches
    along its opposite (straight down, as Dex-Net's labels assume). The optical axis stands in when no plane holds
    `min_inlier_share` of the seen points (no table in view, or an object filling it) or the plane is tilted more
    than `max_tilt` from the optical axis."""
    towards_camera = np.array([0.0, 0.0, -1.0])
    step = max(1, int(np.sqrt(depth.size / 5000)))  # a coarse grid is plenty for one dominant plane
    grid = depth[::step, ::step]
    v, u = np.mgrid[0:depth.shape[0]:step, 0:depth.shape[1]:step]
    valid = ~missing(grid)
    points = camera.deproject_pixels(np.stack([u[valid], v[valid]], axis=-1), grid[valid])
    config = SegmentationConfig(ransac_iterations=50)
    try:
        plane = fit_table_plane(points, np.random.default_rng(0), config)
    except ValueError:
        return towards_camera
    share = np.mean(np.abs(points @ plane[:3] + plane[3]) < config.plane_inlier_distance)
    dominant = share >= min_inlier_share and plane[:3] @ towards_camera >= np.cos(max_tilt)
    return plane[:3] if dominant else towards_camera


def gripper_clear(depth: np.ndarray, candidates: GraspCandidates, camera: CameraIntrinsics, gripper: Gripper,
                  up: np.ndarray | None = None, margin: float = 0.002, holes: np.ndarray | None = None) -> np.ndarray:
    """True where the gripper can come down to each grasp without touching anything seen in the depth image.

    The model is that of Dex-Net's labels and of the executor: jaws fully open (the gripper's `max_width`), the
    approach straight down (against `up`, the table normal; default the optical axis) with the jaw axis levelled,
    finger and palm boxes swept up from the grasp. It is deliberately stricter than the labels' check: each
    finger's whole sweep in to its contact is checked at every height, from 2 px outside the contact, and the
    boxes are `margin` wider sideways; what is outside the image counts as blocked.

    The scene is read as a height field over the table (`TableHeights`): everything below a seen surface point,
    straight down to the table, is solid. A point of the gripper collides when a seen surface lies above it in its
    column. (Reading the image along the camera's rays instead, as solid behind every seen surface, blocks the
    strip beside an object's far side that a tilted camera cannot see under the rim: every fingertip there.)
    Points are checked on grids over both fingers' sweeps at the fingertips, half-way up and at the palm, and over
    the palm's footprint at its underside, middle and top.

    holes: pixels the sensor did not measure (inpainted in `depth`). Where nothing was measured, where the filled
    surface stands is a guess, so a point seen through a hole is also blocked when the filled depth is nearer than
    the point (the ray reading: solid behind the surface), as before the height field. Pass the image and holes
    through `sensed_surface` first (the planner's reading: shadows as the far surface they lie on, and only holes
    across a depth step kept)."""
    if len(candidates) == 0:
        return np.zeros(0, dtype=bool)
    up = np.array([0.0, 0.0, -1.0]) if up is None else np.asarray(up, dtype=float)
    focal = (camera.fx + camera.fy) / 2
    tip = candidates.depths
    centre = camera.deproject_pixels(candidates.centers, tip)  # (N, 3), camera frame
    image_axis = np.column_stack([np.cos(candidates.angles), np.sin(candidates.angles), np.zeros(len(tip))])
    axis = image_axis - (image_axis @ up)[:, None] * up  # levelled onto the table, as the executor does
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    across = np.cross(up, axis)
    # Each finger sweeps in from the open jaw to just outside its contact (the edge pixel is a blurred depth step of
    # the object itself): half the grasp width out from the centre, or farther where the object's rim is (its edge
    # pixel at the rim's own depth): seen by a tilted camera, the rim lies off the ray through the grasp centre by
    # the centre's depth below the rim.
    ends = candidates.endpoints_px()
    rim = camera.deproject_pixels(ends, rim_depths(depth, ends))  # (N, 2, 3)
    rim_x = np.einsum("nkc,nc->nk", rim - centre[:, None, :], axis)  # along the levelled axis: (-, +) expected
    blur = np.maximum(0.2 * gripper.finger_width, 2.0 * tip / focal)
    inner = np.maximum(np.column_stack([-rim_x[:, 0], rim_x[:, 1]]), candidates.widths[:, None] / 2) + blur[:, None]
    # The open finger's own footprint is always checked: a rim beyond it (a grasp centre off the object's middle)
    # is where the finger would land.
    inner = np.minimum(inner, gripper.max_width / 2)
    outer = np.maximum(gripper.max_width / 2 + gripper.finger_width + margin, inner)  # (N, 2): - and + finger
    along = np.linspace(0.0, 1.0, 12)
    finger_y = np.linspace(-1.0, 1.0, 11) * (gripper.finger_thickness / 2 + margin)
    palm_x = np.linspace(-1.0, 1.0, 24)[:, None] * (gripper.palm_width / 2 + margin)
    palm_y = np.linspace(-1.0, 1.0, 14)[None, :] * (gripper.palm_thickness / 2 + margin)
    palm = np.broadcast_arrays(palm_x, palm_y)

    def grid(part: str, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of the part's checked points, (n, P) each: x along the grasp axis, y across, metres."""
        if part == "palm":
            return tuple(np.broadcast_to(g.ravel(), (len(index), g.size)) for g in palm)
        x = inner[index, :, None] + along * (outer - inner)[index, :, None]  # (n, 2, 12)
        x = np.concatenate([-x[:, 0], x[:, 1]], axis=1)[:, :, None] + 0 * finger_y  # both fingers
        return x.reshape(len(index), -1), np.broadcast_to(finger_y, x.shape).reshape(len(index), -1)

    fl, ph = gripper.finger_length, gripper.palm_height
    alive = np.flatnonzero(((ends >= 0) & (ends < np.array([camera.width, camera.height]))).all(axis=(1, 2))
                           & in_view(camera, centre, axis, across, up, [
                               (outer.max(axis=1), gripper.finger_thickness / 2 + margin, 0.0, fl),
                               (gripper.palm_width / 2 + margin, gripper.palm_thickness / 2 + margin, fl, fl + ph)]))
    if len(alive) == 0:
        return np.zeros(len(candidates), dtype=bool)
    reach = np.hypot(gripper.palm_width / 2 + margin, gripper.palm_thickness / 2 + margin)
    heights = TableHeights(depth, camera, up, centre[alive], reach, nearest=float(tip[alive].min()) - fl - ph)
    # The checked points in table coordinates: a 2-D position on the table and a height per candidate.
    flat = heights.flat
    centre_t, axis_t, across_t = centre @ flat, axis @ flat[:, :2], across @ flat[:, :2]
    # Fingertips first: they reject most candidates, so the later checks run on the few left. A part's higher
    # layers look at the same table columns as its lowest one (fingertips, palm underside), so in the height field
    # they can never block what that layer cleared; they are there for the ray reading through `holes`.
    for part, height in (("finger", 0.0), ("finger", fl), ("palm", fl), ("finger", fl / 2), ("palm", fl + ph / 2),
                         ("palm", fl + ph)):
        if len(alive) == 0:
            break
        x, y = grid(part, alive)
        position = (centre_t[alive, None, :2] + x[..., None] * axis_t[alive, None, :]
                    + y[..., None] * across_t[alive, None, :])
        free = heights.surface_at(position) < (centre_t[alive, 2] + height)[:, None]
        if holes is not None:
            points = (centre[alive, None, :] + x[..., None] * axis[alive, None, :]
                      + y[..., None] * across[alive, None, :] + height * up)
            pixels = camera.project(points)
            rows = np.clip(np.round(pixels[..., 1]).astype(int), 0, depth.shape[0] - 1)
            cols = np.clip(np.round(pixels[..., 0]).astype(int), 0, depth.shape[1] - 1)
            free &= ~holes[rows, cols] | (depth[rows, cols] > points[..., 2])
        alive = alive[free.all(axis=1)]
    clear = np.zeros(len(candidates), dtype=bool)
    clear[alive] = True
    return clear


def in_view(camera: CameraIntrinsics, centre: np.ndarray, axis: np.ndarray, across: np.ndarray, up: np.ndarray,
            boxes: list[tuple]) -> np.ndarray:
    """(N,) bool: every corner of the boxes (half-extents along `axis` and `across`, heights from/to along `up`,
    each a scalar or (N,)) around the centres (N, 3) projects into the image. The boxes are convex, so then all of
    them does: what the camera does not see cannot be checked."""
    ok = np.ones(len(centre), dtype=bool)
    for half_x, half_y, low, high in boxes:
        for sx, sy, height in itertools.product((-1, 1), (-1, 1), (low, high)):
            corner = (centre + (sx * np.asarray(half_x))[..., None] * axis + sy * half_y * across + height * up)
            pixel = camera.project(corner)
            ok &= (corner[:, 2] > 0) & (pixel >= -0.5).all(axis=1) & (pixel < np.array(camera.shape[::-1]) - 0.5).all(
                axis=1)
    return ok


def rim_depths(depth: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Depth of the nearest surface within a pixel of each (u, v) pixel (...): an edge pixel's own object side."""
    rows = np.clip(np.round(pixels[..., 1]).astype(int), 0, depth.shape[0] - 1)
    cols = np.clip(np.round(pixels[..., 0]).astype(int), 0, depth.shape[1] - 1)
    nearest = np.full(rows.shape, np.inf)
    for dv, du in ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)):
        nearest = np.minimum(nearest, depth[np.clip(rows + dv, 0, depth.shape[0] - 1),
                                            np.clip(cols + du, 0, depth.shape[1] - 1)])
    return nearest


class TableHeights:
    """The depth image as a height field over the table: the highest seen surface in each cell of a grid on the
    table plane (`up` its normal), built around the grasp centres out to `reach` (metres).

    A cell no pixel lands in is one the camera cannot see (beside an object's far side, under its rim) or one
    between the samples: it takes the lowest height seen within `hidden_span`, usually the table beyond. Whatever
    hides there is lower than the sight lines over the rim."""

    def __init__(self, depth: np.ndarray, camera: CameraIntrinsics, up: np.ndarray, centres: np.ndarray,
                 reach: float, nearest: float, hidden_span: float = 0.03) -> None:
        self.camera, self.up = camera, up / np.linalg.norm(up)
        side = np.array([1.0, 0.0, 0.0]) if abs(self.up[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
        self.e1 = np.cross(self.up, side)
        self.e1 /= np.linalg.norm(self.e1)
        self.e2 = np.cross(self.up, self.e1)
        # The pixels that can see into the region: the centres' bounding box widened by the reach as seen at the
        # nearest height a checked point has (the palm's top), plus the hidden span.
        pixels = camera.project(centres)
        pad = (reach + hidden_span) * max(camera.fx, camera.fy) / max(nearest, 0.05)
        u0, v0 = np.maximum(np.floor(pixels.min(axis=0) - pad).astype(int), 0)
        u1, v1 = np.minimum(np.ceil(pixels.max(axis=0) + pad).astype(int) + 1, (depth.shape[1], depth.shape[0]))
        window = depth[v0:v1, u0:u1].astype(np.float64)
        v, u = np.mgrid[v0:v1, u0:u1]
        cloud = camera.deproject_pixels(np.stack([u, v], axis=-1), window).reshape(-1, 3)
        cloud = cloud[np.isfinite(cloud).all(axis=1) & (cloud[:, 2] > 0)]
        # About two pixels a cell, on a lattice fixed by the image alone: a grasp's verdict does not depend on the
        # other candidates checked with it.
        typical = float(np.nanmedian(np.where(depth[::8, ::8] > 0, depth[::8, ::8], np.nan)))
        self.cell = 1.5 * typical / ((camera.fx + camera.fy) / 2)
        a, b, h = cloud @ self.e1, cloud @ self.e2, cloud @ self.up
        self.origin = np.floor(np.array([a.min(), b.min()]) / self.cell) * self.cell
        ia, ib = self._cells(a, b)
        shape = (int(ia.max()) + 1, int(ib.max()) + 1)
        top = np.full(shape, -np.inf)
        np.maximum.at(top, (ia, ib), h)
        unseen = np.isinf(top)
        if unseen.any():
            span = 2 * int(np.ceil(hidden_span / self.cell)) + 1
            top[unseen] = ndimage.minimum_filter(np.where(unseen, np.inf, top), size=span)[unseen]
        self.top = top  # still -inf/inf where nothing was seen within the span: blocked

    @property
    def flat(self) -> np.ndarray:
        """(3, 3): camera-frame points @ flat = (table coordinates a, b, height)."""
        return np.column_stack([self.e1, self.e2, self.up])

    def _cells(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (np.floor((a - self.origin[0]) / self.cell).astype(int),
                np.floor((b - self.origin[1]) / self.cell).astype(int))

    def surface_at(self, position: np.ndarray) -> np.ndarray:
        """(...) height of the highest surface seen in the column at each table position (..., 2) (a, b); +inf
        outside the map."""
        ia, ib = self._cells(position[..., 0], position[..., 1])
        inside = (ia >= 0) & (ia < self.top.shape[0]) & (ib >= 0) & (ib < self.top.shape[1])
        surface = self.top[np.clip(ia, 0, self.top.shape[0] - 1), np.clip(ib, 0, self.top.shape[1] - 1)]
        return np.where(inside, surface, np.inf)


def sensed_surface(depth: np.ndarray, holes: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """(depth, holes) as `gripper_clear` reads an inpainted image: emitter shadows read as the far surface they fall
    on (`read_emitter_shadows`), and of the other holes only those across a depth step kept for the ray reading
    (`holes_across_steps`)."""
    if holes is None:
        return depth, None
    depth, holes = read_emitter_shadows(depth, holes)
    return depth, holes_across_steps(depth, holes)


def read_emitter_shadows(depth: np.ndarray, holes: np.ndarray, jump: float = 0.01, near_band_px: int = 2
                         ) -> tuple[np.ndarray, np.ndarray]:
    """(depth, holes) for `gripper_clear`: the holes that are an emitter's occlusion shadow take the depth of the
    far surface they lie on and are no longer holes.

    A structured-light or active-stereo sensor's emitter sits beside the camera along the image's x axis (rectified
    sensors): a surface it cannot see because a nearer one blocks its rays gets no depth, a run of holes in the row
    between the far surface and the nearer one on the emitter's side. Which side that is is read from the image:
    the side where the nearer border of stepped hole runs (depth step > `jump`) lies most often. The camera sees
    the far surface through such a run, but nearest filling puts the half next to the near surface at its depth:
    a phantom wall beside the object that blocks the finger there. The `near_band_px` pixels next to the near
    border stay holes: sensors also lose a band of the near surface at the edge (2 px in gqcnn_core.sensor's
    structured-light model, 1 px in its stereo one); a wider band on a real sensor needs a larger value."""
    rows_with_holes = np.flatnonzero(holes.any(axis=1))  # other rows hold no run and cast no vote: skip them
    if len(rows_with_holes) == 0:
        return depth, holes
    shadow_depth, shadow = _emitter_shadows(depth[rows_with_holes], holes[rows_with_holes], jump, near_band_px)
    read_depth, left_holes = depth.copy(), holes.copy()
    read_depth[rows_with_holes] = np.where(shadow, shadow_depth, depth[rows_with_holes])
    left_holes[rows_with_holes] &= ~shadow
    return read_depth, left_holes


def _emitter_shadows(depth: np.ndarray, holes: np.ndarray, jump: float, near_band_px: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(far-surface depth, shadow mask) of `read_emitter_shadows` on image rows that all hold holes."""
    width = depth.shape[1]
    u = np.broadcast_to(np.arange(width), depth.shape)
    left = np.maximum.accumulate(np.where(holes, -1, u), axis=1)  # nearest measured pixel on each side in the row
    right = np.minimum.accumulate(np.where(holes, width, u)[:, ::-1], axis=1)[:, ::-1]
    rows = np.broadcast_to(np.arange(depth.shape[0])[:, None], depth.shape)
    bounded = holes & (left >= 0) & (right < width)
    left_depth = np.where(bounded, depth[rows, np.clip(left, 0, width - 1)], np.nan)
    right_depth = np.where(bounded, depth[rows, np.clip(right, 0, width - 1)], np.nan)
    starts = bounded & (u == left + 1)  # one pixel per run
    if (starts & (right_depth < left_depth - jump)).sum() >= (starts & (left_depth < right_depth - jump)).sum():
        return left_depth, bounded & (right_depth < left_depth - jump) & (right - u > near_band_px)
    return right_depth, bounded & (left_depth < right_depth - jump) & (u - left > near_band_px)


def holes_across_steps(depth: np.ndarray, holes: np.ndarray, jump: float = 0.01) -> np.ndarray:
    """The holes whose measured border spans a depth step (sorted border depths with a gap above `jump`).

    A hole inside one surface (dropout on a wall seen at a grazing angle, a speckle on a table) is bordered by depths
    that change smoothly around it, and filling it continues that surface: the height field can trust it. A hole
    across an edge (an object's rim and the table behind it) hides where the edge is, so `gripper_clear` reads such
    holes along the rays. Reading every hole that way blocked the far finger behind any tall object with dropout on
    its near face, even where the object's own height field showed it clear. A limit: a hole whose border also runs
    over a sloped face with depths between the two sides of an edge is taken for one surface (the mesh-checked tests
    and the benchmarks show no collision from it so far)."""
    labels, count = ndimage.label(holes, structure=np.ones((3, 3), dtype=bool))
    if count == 0:
        return holes
    # Every (hole, measured 8-neighbour) pair: a pixel between two holes borders both.
    rows, cols = depth.shape
    padded = np.pad(labels, 1)
    owners, depths = [], []
    for dv, du in itertools.product((-1, 0, 1), repeat=2):
        if not (dv or du):
            continue
        neighbour = padded[1 + dv:1 + dv + rows, 1 + du:1 + du + cols]
        border = ~holes & (neighbour > 0)
        owners.append(neighbour[border])
        depths.append(depth[border])
    owner, border_depth = np.concatenate(owners), np.concatenate(depths)
    order = np.lexsort((border_depth, owner))
    owner, border_depth = owner[order], border_depth[order]
    gaps = (owner[1:] == owner[:-1]) & (np.diff(border_depth) > jump)
    stepped = np.zeros(count + 1, dtype=bool)
    stepped[owner[1:][gaps]] = True
    return holes & stepped[labels]
