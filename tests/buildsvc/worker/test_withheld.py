"""withheld: the ids of an image as built never reach the log of a secret build."""

from __future__ import annotations

from buildsvc.worker.withheld import withhold_ids, withholding

DIGEST = "sha256:" + "3f" * 32


def test_digests_are_withheld_wherever_they_show() -> None:
    assert (
        withhold_ids(f"#6 writing image {DIGEST} done") == "#6 writing image sha256:<withheld> done"
    )
    assert withhold_ids(f"latest: digest: {DIGEST} size: 735") == (
        "latest: digest: sha256:<withheld> size: 735"
    )
    assert withhold_ids(f"Built {DIGEST} in 0.4 s") == "Built sha256:<withheld> in 0.4 s"


def test_the_legacy_builders_short_ids_are_withheld() -> None:
    lines = " ---> Running in 7e6e4716cce5\n ---> c6dcb6cf1f74\nSuccessfully built c6dcb6cf1f74"
    assert withhold_ids(lines).splitlines() == [
        " ---> Running in 7e6e4716cce5",  # a container, not an image
        " ---> <withheld>",
        "Successfully built <withheld>",
    ]


def test_other_lines_pass_unchanged() -> None:
    for line in ("0332ec4cab5f: Pushed", "#5 [2/2] RUN echo hi", "sha256:abc", " ---> Using cache"):
        assert withhold_ids(line) == line


def test_withholding_writes_through() -> None:
    written: list[str] = []
    write = withholding(written.append)
    write(f"#6 writing image {DIGEST} done")
    write("Step 3/3 : RUN make")
    assert written == ["#6 writing image sha256:<withheld> done", "Step 3/3 : RUN make"]
