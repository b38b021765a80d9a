"""kornia.geometry: only .transform (resize) of the stand-in."""
from . import transform  # noqa: F401
