"""Every ```python block of README.md runs, so an example a reader copies cannot break unseen.

Each ``## `` section runs its blocks in order in one fresh namespace (blocks of a section may
build on each other), in a temporary working folder. The namespace starts with the placeholder
*data* the README names without defining (``X_train``, ``y_batch``, ...: tiny seeded arrays of
784 features and 10 classes, the shape of the Fashion-MNIST examples) and with ``model``, the
network that "A first network" builds and later sections train; modules are never predefined,
so a block that forgets an import fails here as it would for a reader. A block that is
deliberately not runnable is marked on the line before it with
``<!-- readme-test: skip (reason) -->`` and reported as skipped with that reason.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
SKIP = re.compile(r"<!--\s*readme-test:\s*skip\s*\((?P<reason>.+)\)\s*-->")
FIRST_NETWORK = "A first network"


@dataclass
class Block:
    section: str
    line: int  # 1-based line of the opening fence
    code: str
    skip: str | None  # the reason, when the block is marked as not runnable


def readme_blocks(text: str) -> list[Block]:
    """The ```python blocks of ``text`` with their section and skip marker."""
    blocks, section, lines = [], "", text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line[3:].strip()
        if line.strip() == "```python":
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
            before = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
            marker = SKIP.search(before)
            blocks.append(
                Block(
                    section,
                    i + 1,
                    "\n".join(lines[i + 1 : end]) + "\n",
                    marker["reason"] if marker else None,
                )
            )
            i = end
        i += 1
    return blocks


def placeholder_data() -> dict[str, np.ndarray]:
    """Tiny stand-ins for the data names the README uses: 784 features in [0, 1), labels 0..9
    with every class present (stratified splits and per-class metrics need each one)."""
    rng = np.random.default_rng(0)
    data = {}
    for name, n in (("train", 100), ("val", 40), ("test", 40), ("batch", 32), ("more", 20)):
        data[f"X_{name}"] = rng.random((n, 784), dtype=np.float32)
        data[f"y_{name}"] = rng.permutation(np.arange(n) % 10)
    return data


BLOCKS = readme_blocks(README.read_text(encoding="utf-8"))
SECTIONS = list(dict.fromkeys(b.section for b in BLOCKS))


def run_block(block: Block, namespace: dict) -> None:
    code = compile(block.code, f"README.md, block at line {block.line}", "exec")
    exec(code, namespace)  # noqa: S102 - the README's own examples


def tiny_fashion_mnist(folder: Path) -> None:
    """Stand-in IDX files for ``load_fashion_mnist()`` (found through ``$MLPLAB_DATA``): the
    real format and sizes a README split needs (10,000 validation rows plus some to train on),
    random pixels, so the lab example runs in seconds instead of training on 60,000 images."""
    from mlplab.data import write_idx

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for part, n in (("train", 10_300), ("t10k", 200)):
        write_idx(folder / f"{part}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28), np.uint8))
        write_idx(
            folder / f"{part}-labels-idx1-ubyte",
            rng.permutation(np.arange(n) % 10).astype(np.uint8),
        )


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    """The examples multiply tiny matrices, which OpenBLAS's threads slow down 100x on a busy
    machine (60 ms instead of 0.2 ms for 32x784 @ 784x64 with the suite running alongside)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="module")
def first_network_model(one_blas_thread):
    """``model`` as "A first network" leaves it (run once; each section gets a copy)."""
    namespace = {"__name__": "__readme__", **placeholder_data()}
    for block in (b for b in BLOCKS if b.section == FIRST_NETWORK and not b.skip):
        run_block(block, namespace)
    return namespace["model"]


@pytest.fixture
def readme_session(tmp_path, monkeypatch, first_network_model):
    """A fresh working folder, a non-interactive plot backend, the placeholders."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("MLPLAB_DATA", str(tmp_path / "data"))
    tiny_fashion_mnist(tmp_path / "data" / "fashion-mnist")
    return {
        "__name__": "__readme__",
        **placeholder_data(),
        "model": copy.deepcopy(first_network_model),
    }


def test_readme_has_python_examples():
    assert len(BLOCKS) >= 4 and FIRST_NETWORK in SECTIONS
    assert all(b.code.strip() for b in BLOCKS)


def test_skip_markers_are_parsed():
    text = (
        "## S\n\n<!-- readme-test: skip (needs a GPU) -->\n```python\nx = 1\n```\n\n"
        "```python\ny = 2\n```\n"
    )
    assert [(b.section, b.line, b.code, b.skip) for b in readme_blocks(text)] == [
        ("S", 4, "x = 1\n", "needs a GPU"),
        ("S", 8, "y = 2\n", None),
    ]


@pytest.mark.parametrize("section", SECTIONS)
def test_readme_section_runs(section, readme_session):
    skipped = []
    for block in (b for b in BLOCKS if b.section == section):
        if block.skip:
            skipped.append(f"line {block.line}: {block.skip}")
            continue
        run_block(block, readme_session)
    if skipped:
        pytest.skip(
            f"README section {section!r} ran its other blocks; skipped " + "; ".join(skipped)
        )
