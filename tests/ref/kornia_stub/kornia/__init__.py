"""A minimal stand-in for kornia 0.5.0 (see ../README.md): only what the official refiner uses."""
from . import filters, geometry, morphology  # noqa: F401
