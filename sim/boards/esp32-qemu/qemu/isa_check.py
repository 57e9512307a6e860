#!/usr/bin/env python3
"""Which Xtensa opcodes an ELF uses, and which QEMU 7.2 cores can execute them.

    isa_check.py QEMU_SRC ELF [ELF...] [--objdump xtensa-esp32-elf-objdump] [--trace QEMU_LOG...]
                 [--json OUT]

For every mnemonic in the ELFs' code (objdump -d; with --trace, also the set actually
translated in a run: QEMU `-d in_asm` logs) it checks each core in QEMU_SRC/target/xtensa:
  - the core's ISA (core-*/xtensa-modules.c.inc, the overlay's own opcode table) decodes it:
    an opcode absent there raises IllegalInstruction in QEMU;
  - QEMU has a translator for it (translate.c: xtensa_core_opcodes, fpu2000, fpu tables; the
    table set a core uses is taken from its core-*.c `opcode_translators`).
The encodings of an option's opcodes are the same in every configuration that has the option,
so "decoded + translated" means "runs", up to per-configuration resources (register counts,
special registers, vector addresses, memory map) that the report lists separately.
"""
from __future__ import annotations

import argparse
import collections
import json
import re
import subprocess
import sys
from pathlib import Path

KEYS = ["XCHAL_NUM_AREGS", "XCHAL_HAVE_WINDOWED", "XCHAL_HAVE_MUL16", "XCHAL_HAVE_MUL32", "XCHAL_HAVE_MUL32_HIGH",
        "XCHAL_HAVE_DIV32", "XCHAL_HAVE_MAC16", "XCHAL_HAVE_LOOPS", "XCHAL_HAVE_NSA", "XCHAL_HAVE_MINMAX",
        "XCHAL_HAVE_SEXT", "XCHAL_HAVE_CLAMPS", "XCHAL_HAVE_BOOLEANS", "XCHAL_HAVE_FP", "XCHAL_HAVE_FP_DIV",
        "XCHAL_HAVE_FP_SQRT", "XCHAL_HAVE_DFP", "XCHAL_HAVE_S32C1I", "XCHAL_HAVE_THREADPTR",
        "XCHAL_HAVE_RELEASE_SYNC", "XCHAL_HAVE_DEBUG", "XCHAL_NUM_DBREAK", "XCHAL_HAVE_ABSOLUTE_LITERALS",
        "XCHAL_NUM_INTERRUPTS", "XCHAL_RESET_VECTOR0_VADDR", "XCHAL_VECBASE_RESET_VADDR"]


def objdump_mnemonics(objdump: str, elf: Path) -> collections.Counter:
    out = subprocess.run([objdump, "-d", str(elf)], check=True, capture_output=True, text=True).stdout
    c: collections.Counter = collections.Counter()
    for line in out.splitlines():
        m = re.match(r"^\s*[0-9a-f]+:\s+(?:[0-9a-f]{2,8})\s+([a-z][a-z0-9._]*)", line)
        if m:
            c[m.group(1)] += 1
    return c


def trace_mnemonics(log: Path) -> collections.Counter:
    c: collections.Counter = collections.Counter()
    for line in log.read_text(errors="replace").splitlines():
        m = re.match(r"^0x[0-9a-f]+:\s+([a-z][a-z0-9._]*)", line)
        if m:
            c[m.group(1)] += 1
    return c


def translator_tables(translate_c: str) -> dict[str, set[str]]:
    tables = {}
    for var, table in (("core_ops", "xtensa_core_opcodes"), ("fpu2000_ops", "xtensa_fpu2000_opcodes"),
                       ("fpu_ops", "xtensa_fpu_opcodes")):
        start = translate_c.index(f"static const XtensaOpcodeOps {var}[] = {{")
        end = translate_c.index("\n};", start)
        body = translate_c[start:end]
        names = set(re.findall(r'\.name = "([^"]+)"', body))
        for arr in re.findall(r"\.name = \(const char \* const\[\]\) \{([^}]*)\}", body):
            names |= set(re.findall(r'"([^"]+)"', arr))
        tables[table] = names
    return tables


def core_info(tdir: Path, name: str, tables: dict[str, set[str]]) -> dict:
    mods = (tdir / f"core-{name}" / "xtensa-modules.c.inc").read_text(errors="replace")
    start = mods.index("static xtensa_opcode_internal opcodes[] = {")
    isa = set(re.findall(r'^\s*\{ "([^"]+)", (?:ICLASS_|\d+ \/\*)', mods[start:], re.MULTILINE))
    src = (tdir / f"core-{name}.c").read_text(errors="replace")
    used = re.findall(r"&(xtensa_\w+_opcodes)", src) or ["xtensa_core_opcodes"]
    translated = set().union(*(tables[t] for t in used if t in tables))
    isa_h = (tdir / f"core-{name}" / "core-isa.h").read_text(errors="replace")
    opts = {}
    for k in KEYS:
        m = re.search(rf"^#define\s+{k}\s+(\S+)", isa_h, re.MULTILINE)
        opts[k] = m.group(1) if m else "-"
    return {"isa": isa, "translated": translated, "tables": used, "options": opts}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("qemu_src", type=Path)
    ap.add_argument("elf", type=Path, nargs="+")
    ap.add_argument("--objdump", default="xtensa-esp32-elf-objdump")
    ap.add_argument("--trace", type=Path, nargs="*", default=[], help="QEMU -d in_asm logs of runs")
    ap.add_argument("--cores", default=None, help="comma list (default: every core-*.c in cores.list or dir)")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()

    tdir = a.qemu_src / "target" / "xtensa"
    tables = translator_tables((tdir / "translate.c").read_text())
    cores = a.cores.split(",") if a.cores else sorted(
        p.name[5:-2] for p in tdir.glob("core-*.c"))
    static: collections.Counter = collections.Counter()
    for elf in a.elf:
        static += objdump_mnemonics(a.objdump, elf)
    dynamic: collections.Counter = collections.Counter()
    for log in a.trace:
        dynamic += trace_mnemonics(log)
    info = {c: core_info(tdir, c, tables) for c in cores}

    report = {"mnemonics_static": dict(static), "mnemonics_translated_in_runs": dict(dynamic), "cores": {}}
    print(f"{len(static)} distinct mnemonics in {', '.join(str(e.name) for e in a.elf)}"
          + (f"; {len(dynamic)} translated in the traced runs" if dynamic else ""))
    for c in cores:
        ci = info[c]
        missing_isa = sorted(m for m in static if m not in ci["isa"])
        missing_tr = sorted(m for m in static if m in ci["isa"] and m not in ci["translated"])
        dyn_missing = sorted(m for m in dynamic if m not in ci["isa"] or m not in ci["translated"])
        report["cores"][c] = {"not_decoded": missing_isa, "decoded_not_translated": missing_tr,
                              "traced_but_unsupported": dyn_missing, "opcode_tables": ci["tables"],
                              "options": ci["options"]}
        ok = not missing_isa and not missing_tr
        print(f"\n== {c} ({'+'.join(t.replace('xtensa_', '').replace('_opcodes', '') for t in ci['tables'])}):"
              f" {'ALL SUPPORTED' if ok else 'NOT SUFFICIENT'}")
        if missing_isa:
            print("  not in its ISA (IllegalInstruction): " +
                  ", ".join(f"{m}({static[m]})" for m in missing_isa))
        if missing_tr:
            print("  decoded but no QEMU translator: " + ", ".join(f"{m}({static[m]})" for m in missing_tr))
        if dynamic:
            print("  executed in the traced runs and unsupported: " + (", ".join(dyn_missing) or "none"))
    if a.json:
        a.json.write_text(json.dumps(report, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
