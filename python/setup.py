"""Builds the extension shmc._shmc from python/shmc/_shmc.c and libshmc's own sources
(../src, ../include), so `pip install --no-build-isolation python/` needs nothing but a C
compiler and the interpreter's headers.  Metadata: pyproject.toml."""
import glob
import os

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if not os.path.isfile(os.path.join(ROOT, "include", "shmc.h")):
    raise SystemExit("setup.py: libshmc's sources (../include, ../src) are not beside %s; "
                     "build from the shmc source tree" % HERE)

# setuptools takes only paths relative to this directory (the build runs here)
os.chdir(HERE)
library = sorted(glob.glob(os.path.join("..", "src", "*", "*.c")))

setup(
    ext_modules=[
        Extension(
            "shmc._shmc",
            sources=["shmc/_shmc.c"] + library,
            include_dirs=[os.path.join("..", "include"), os.path.join("..", "src")],
            define_macros=[("_GNU_SOURCE", None), ("SHMC_BUILDING_LIBRARY", None)],
            extra_compile_args=["-std=c11", "-fvisibility=hidden", "-fno-strict-aliasing",
                                "-Wno-unused-parameter"],
            libraries=["pthread"],
        )
    ],
)
