#!/usr/bin/env python3
"""Fails when a source file includes a module its folder may not use (DESIGN.md, "Proposed
layout and dependency rule"). The CMake targets mirror these arrows, but every target shares the
source root as include directory, so only this check stops a wrong include from compiling.

Usage: check_includes.py SOURCE_ROOT
"""
import pathlib
import re
import sys

# Folder -> the project folders its files may include (besides their own). A folder not listed
# here may not include any project header. Generated protobuf headers are "holdfast/v1".
ALLOWED = {
    "common": set(),
    "policy": {"common", "holdfast/v1"},
    "bgp": {"common"},
    "bfd": {"common"},
    "dns": {"common"},
    "control-plane": {"common", "policy", "holdfast/v1"},
    "edge/http": set(),
    "edge/upstream": set(),
    "edge/overload": set(),
    "edge/health": {"common", "edge/http", "edge/upstream"},
    "edge/config": {"common", "policy", "bgp", "bfd", "dns", "edge/health", "edge/upstream",
                    "edge/overload", "holdfast/v1"},
    "edge/bgp": {"bgp", "bfd", "edge/config"},
    "edge/discovery": {"common"},
    "edge/server": {"common", "bgp", "bfd", "dns", "edge/http", "edge/upstream", "edge/overload",
                    "edge/health", "edge/config", "edge/bgp", "holdfast/v1"},
    "edge/agent": {"common", "policy", "bgp", "bfd", "dns", "edge/config", "edge/overload",
                   "edge/server", "holdfast/v1"},
    "edge/daemon": {"common", "policy", "bgp", "dns", "edge/config", "edge/overload", "edge/bgp",
                    "edge/discovery", "edge/server", "edge/agent", "holdfast/v1"},
    "edge/dnsd": {"common", "policy", "dns", "edge/config", "edge/daemon", "holdfast/v1"},
    "edge": {"common", "edge/daemon"},  # main.cc
}
PROJECT = ("common", "policy", "bgp", "bfd", "dns", "edge", "control-plane", "holdfast")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)


def folder_of(path: str) -> str:
    """The ALLOWED key that owns a path (edge/ files by their subfolder), or ""."""
    parts = path.split("/")
    if parts[0] == "holdfast":
        return "holdfast/v1"
    if parts[0] == "edge" and len(parts) > 2:
        return "edge/" + parts[1]
    return parts[0] if parts[0] in PROJECT else ""


def main() -> int:
    root = pathlib.Path(sys.argv[1])
    wrong = []
    for module in ALLOWED:
        for source in sorted((root / module).glob("*" if module == "edge" else "**/*")):
            if source.suffix not in (".h", ".cc") or not source.is_file():
                continue
            rel = source.relative_to(root).as_posix()
            owner = folder_of(rel)
            if owner != module:
                continue  # edge/<sub>/ files are checked under their own key
            for target in INCLUDE.findall(source.read_text(errors="replace")):
                used = folder_of(target)
                if used and used != owner and used not in ALLOWED[owner]:
                    wrong.append(f"{rel}: includes \"{target}\", but {owner}/ may not use {used}/")
    for line in wrong:
        print(line)
    if wrong:
        print(f"{len(wrong)} include(s) against the dependency arrows (tests/arrows/check_includes.py)")
        return 1
    print(f"include arrows hold for {len(ALLOWED)} folders")
    return 0


if __name__ == "__main__":
    sys.exit(main())
