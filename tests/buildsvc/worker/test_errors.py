"""The worker's error tree: stable, unique codes, all drawn in the module docstring."""

from __future__ import annotations

import buildsvc.worker.errors as errors_module
from buildsvc.errors import ServiceError
from buildsvc.worker.errors import BuildError, BuildFailed, DockerfileNotFound


def all_subclasses(cls: type[BuildError]) -> list[type[BuildError]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *all_subclasses(sub)]
    return found


def test_every_error_has_a_unique_code_named_in_the_tree() -> None:
    classes = all_subclasses(BuildError)
    codes = [cls.code for cls in classes]
    assert len(codes) == len(set(codes))
    doc = errors_module.__doc__ or ""
    for cls in classes:
        assert issubclass(cls, ServiceError)
        assert cls.__name__ in doc, cls
        assert cls.code in doc, cls


def test_errors_carry_data_for_the_build_record() -> None:
    failed = BuildFailed("exit 3", step="Step 2/3 : RUN false", last_lines=["a", "b"])
    assert failed.to_dict()["code"] == "BUILD_FAILED"
    assert failed.detail == "Step 2/3 : RUN false: exit 3\nlast lines of output:\na\nb"
    missing = DockerfileNotFound("sub/Dockerfile")
    assert missing.path == "sub/Dockerfile"
    assert "sub/Dockerfile" in str(missing.detail)
