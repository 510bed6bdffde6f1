"""Build hook: ship the outlet registry inside built distributions (scrapyd eggs, wheels).

The registry lives once in git, at ``seeds/outlets.toml`` beside the package. A built
distribution (``scrapyd-deploy`` runs ``setup.py bdist_egg``) has no such sibling directory,
so the build copies the file to ``newsarchive/_seeds/outlets.toml`` inside the build tree;
``newsarchive.registry.registry_path()`` falls back to that packaged copy. All metadata,
including the ``scrapy`` settings entry point scrapyd reads, is in pyproject.toml.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

REGISTRY = Path(__file__).resolve().parent / "seeds" / "outlets.toml"
PACKAGED = Path("newsarchive") / "_seeds" / "outlets.toml"


class BuildPyWithRegistry(build_py):
    """``build_py`` that also copies the registry into the built package."""

    def run(self) -> None:
        super().run()
        # An editable install reads seeds/ from the checkout directly: nothing to copy.
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / PACKAGED
        self.mkpath(str(target.parent))
        self.copy_file(str(REGISTRY), str(target))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        if getattr(self, "editable_mode", False):
            return outputs
        return [*outputs, str(Path(self.build_lib) / PACKAGED)]


setup(cmdclass={"build_py": BuildPyWithRegistry})
