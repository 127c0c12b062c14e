"""pytorch_notes: the small helper package of the PyTorch Notes book.

Every piece is introduced by the chapter that first needs it; the API reference
page lists them all.
"""

from pytorch_notes.checks import expect_error
from pytorch_notes.data import line_data
from pytorch_notes.env import available_devices, environment_report, pick_device, seed_everything
from pytorch_notes.timing import time_op

__version__ = "0.1.0"

__all__ = [
    "available_devices",
    "environment_report",
    "expect_error",
    "line_data",
    "pick_device",
    "seed_everything",
    "time_op",
]
