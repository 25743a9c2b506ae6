"""Builds the _lemma extension with lemma's own CMake build (the repository above
this folder), so `pip install ./python` needs nothing but what `make deps` installs
(Debian's pybind11-dev, Abseil, ONNX and protobuf)."""
import os
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        out = os.path.dirname(os.path.abspath(self.get_ext_fullpath(ext.name)))
        build = os.path.abspath(os.path.join(self.build_temp, "cmake"))
        os.makedirs(build, exist_ok=True)
        subprocess.check_call([
            "cmake", "-S", ROOT, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
            "-DLEMMA_BUILD_TESTS=OFF", "-DLEMMA_PYTHON=ON", f"-DPython_EXECUTABLE={sys.executable}",
            f"-DLEMMA_PYTHON_OUTPUT_DIR={out}"])
        subprocess.check_call(["cmake", "--build", build, "--target", "_lemma", "-j",
                               os.environ.get("LEMMA_JOBS", str(os.cpu_count() or 1))])


setup(packages=["lemma"], ext_modules=[CMakeExtension("lemma._lemma")],
      cmdclass={"build_ext": CMakeBuild})
