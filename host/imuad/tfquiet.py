"""Keep TensorFlow's import-time C++ log lines off the terminal.

TF writes "All log messages before absl::InitializeLog() ..." and "Could not find cuda
drivers ..." straight to file descriptor 2 while it is imported, before TF_CPP_MIN_LOG_LEVEL
applies. `install()` puts a finder on sys.meta_path that runs the first `import tensorflow`
with fd 2 pointed at a temporary file; if that import fails, the captured text is written
back to stderr so nothing that explains the failure is lost. `fd2_captured()` does the same
for any block (TFLite's "Created TensorFlow Lite XNNPACK delegate" line).
"""
from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import tempfile
from collections.abc import Iterator
from types import ModuleType


@contextlib.contextmanager
def fd2_captured() -> Iterator[None]:
    """Run the block with file descriptor 2 in a temporary file (C++ code writes there directly);
    if the block raises, what it wrote goes back to stderr before the exception propagates."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, inner: importlib.abc.Loader) -> None:
        self.inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        with fd2_captured():
            self.inner.exec_module(module)


class _QuietFinder(importlib.abc.MetaPathFinder):
    def __init__(self, module: str) -> None:
        self.module = module

    def find_spec(self, name, path=None, target=None):
        if name != self.module:
            return None
        sys.meta_path.remove(self)  # one import only; also keeps find_spec below from recursing
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def install(module: str = "tensorflow") -> None:
    if module not in sys.modules and not any(isinstance(f, _QuietFinder) and f.module == module
                                             for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietFinder(module))
