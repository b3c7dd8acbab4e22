"""Validation of the planner's inputs: the depth image, the object segments and the region of interest."""

from __future__ import annotations

import numpy as np

from gqcnn_core.camera import CameraIntrinsics
from gqcnn_core.depth import inpaint, missing
from gqcnn_planner.errors import InvalidInputError
from gqcnn_planner.segmentation import label_segments

MAX_IMAGE_PIXELS = 4096 * 4096  # larger frames are refused rather than risking minutes of work


def prepare_inputs(
    depth: np.ndarray, camera: CameraIntrinsics, mask: np.ndarray | None = None,
    roi: tuple[int, int, int, int] | None = None, min_size: int = 97,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Validate and inpaint the depth image; turn the mask (boolean, several objects allowed, or a label image)
    and the ROI (x, y, width, height) into segment labels (int32, 0 = background; None: plan on the whole image)."""
    depth = np.asarray(depth, dtype=np.float32)
    if depth.ndim != 2:
        raise InvalidInputError(f"depth image must be 2-D, got shape {depth.shape}")
    try:
        camera.check_image(depth)
    except ValueError as err:
        raise InvalidInputError(str(err)) from None
    if min(depth.shape) < min_size:
        raise InvalidInputError(f"depth image {depth.shape[1]}x{depth.shape[0]} is too small: grasp crops need at "
                                f"least {min_size}x{min_size} pixels")
    if depth.size > MAX_IMAGE_PIXELS:
        raise InvalidInputError(f"depth image {depth.shape[1]}x{depth.shape[0]} is larger than the supported "
                                f"{MAX_IMAGE_PIXELS} pixels")
    if missing(depth).all():
        raise InvalidInputError("depth image has no valid pixels (all NaN or zero)")
    labels = None
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape != depth.shape:
            raise InvalidInputError(f"segmask is {mask.shape[1]}x{mask.shape[0]} but depth is "
                                    f"{depth.shape[1]}x{depth.shape[0]}")
        try:
            labels = label_segments(mask)
        except ValueError as err:
            raise InvalidInputError(f"segmask: {err}") from None
    if roi is not None and roi[2] > 0 and roi[3] > 0:
        x, y, w, h = roi
        if x < 0 or y < 0 or x + w > depth.shape[1] or y + h > depth.shape[0]:
            raise InvalidInputError(f"ROI {roi} is outside the {depth.shape[1]}x{depth.shape[0]} image")
        box = np.zeros(depth.shape, dtype=np.int32)
        box[y:y + h, x:x + w] = 1
        labels = box if labels is None else labels * box
    if labels is not None and not labels.any():
        raise InvalidInputError("segmask (with ROI) selects no pixels")
    return inpaint(depth), labels
