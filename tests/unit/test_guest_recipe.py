"""The guest-recipe pipeline both Debian-built guests share, up to the network: what goes
into an initramfs from an unpacked package tree, and what the recipe key covers."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from pytest_nfv.backends.clickos.standin import guest as standin
from pytest_nfv.backends.osv import guest as osv
from pytest_nfv.backends.shared.guest_recipe import BOOT, GuestRecipe
from pytest_nfv.native import source

RECIPES = [pytest.param(osv.RECIPE, id="osv"), pytest.param(standin.RECIPE, id="standin")]
RELEASE = "6.1.0-test-cloud-amd64"


def _tree(tmp_path: Path, recipe: GuestRecipe) -> Path:
    """An unpacked package tree holding what the recipe takes from the packages."""
    tree = tmp_path / "tree"
    for path in ("bin/busybox", "usr/bin/xenstore"):
        (tree / path).parent.mkdir(parents=True, exist_ok=True)
        (tree / path).write_bytes(b"\x7fELF " + path.encode())
    for library, where in standin.LIBRARIES.items():
        (tree / where).mkdir(parents=True, exist_ok=True)
        (tree / where / library).write_bytes(library.encode())
    drivers = tree / "lib/modules" / RELEASE / "kernel/drivers"
    drivers.mkdir(parents=True)
    for name in recipe.modules:
        (drivers / f"{name}.ko").write_bytes(name.encode())
    return tree


@pytest.mark.parametrize("recipe", RECIPES)
def test_the_key_covers_the_boot_the_init_scripts_and_the_c_sources(recipe: GuestRecipe) -> None:
    sources = recipe.sources()
    assert BOOT in sources
    assert set(recipe.scripts.values()) <= set(sources)
    assert {source(name) for name in recipe.programs.values()} <= set(sources)
    assert len(recipe.key()) == 16


@pytest.mark.parametrize("recipe", RECIPES)
def test_the_init_sources_the_shared_boot_and_finds_its_modules(recipe: GuestRecipe) -> None:
    init = recipe.script(recipe.scripts["init"]).decode()
    assert ". /lib/nfv/boot.sh" in init
    boot = recipe.script(BOOT).decode()
    assert "@MODULES@" not in boot
    assert f"for m in {' '.join(recipe.modules)}; do" in boot


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
@pytest.mark.parametrize("recipe", RECIPES)
def test_an_initramfs_holds_the_boot_the_scripts_the_static_programs_and_modules(
    recipe: GuestRecipe, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    entries = {
        path: (mode, data)
        for path, mode, data in recipe._entries(
            _tree(tmp_path, recipe), RELEASE, "linux-image-test", work
        )
    }
    for path in ("init", "lib/nfv/boot.sh", *recipe.scripts):
        mode, _ = entries[path]
        assert stat.S_ISREG(mode)
        assert mode & 0o111
    for name in recipe.programs:
        mode, data = entries[f"bin/{name}"]
        assert isinstance(data, bytes)
        assert data[:4] == b"\x7fELF"
        assert b"/lib64/ld-linux" not in data  # static: the initramfs has no C library for it
    for name in recipe.modules:
        assert f"lib/modules/{name}.ko" in entries
    for directory in {str(Path(path).parent) for path in entries} - {"."}:
        assert stat.S_ISDIR(entries[directory][0]), directory
