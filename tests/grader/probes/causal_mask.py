"""Test probe: the student's causal_mask at the two sizes the request lists."""

import numpy as np


def mask_0(ns, request):
    return np.asarray(ns["causal_mask"](request["sizes"][0]))


def mask_1(ns, request):
    return np.asarray(ns["causal_mask"](request["sizes"][1]))


CASES = {"mask_0": mask_0, "mask_1": mask_1}
