"""Which model file the default backend runs on this CPU, and why: one pure function of the CPU's
instructions, the ONNX Runtime version and the machine architecture, plus the readers that describe
this machine (Linux /proc/cpuinfo, macOS sysctl).

ONNX Runtime's int8 convolutions multiply uint8 activations by int8 weights. On x86 CPUs with VNNI
(AVX512-VNNI, AVX-VNNI; AMX CPUs have it too) one instruction adds the products in 32 bits: exact. Without
VNNI (AVX2, AVX-512 before Cascade Lake) its kernel first adds two products into a saturating 16-bit
sum, which 8-bit weights overflow (255 × 127 × 2 > 32767) and 7-bit weights cannot (255 × 64 × 2 =
32640): so those CPUs get the file with 7-bit weights, whose sums every x86 kernel computes exactly. On ARM64
the int8 kernels sum in 32 bits (UDOT/SDOT with the dot-product extension, widening multiplies without
it): exact, and the dot-product instructions make them fast; without them the float model runs, since no
int8 speed-up was measured there. Measurements: docs/model-card.md, Speed; benchmarks/int8_variants.py.
"""
from __future__ import annotations

import os
import platform
import re
import subprocess
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

DEFAULT_WEIGHTS = "default.pt"           # the built-in model (PyTorch weights)
VNNI_FILE = "default.int8.onnx"        # 8-bit weights: x86 with VNNI, ARM64 with dot product
PORTABLE_FILE = "default.int8-7bit.onnx"  # 7-bit weights: exact on every x86 kernel
MIN_ORT = (1, 17)                      # the oldest ONNX Runtime the package supports
MAX_DEFAULT_THREADS = 4                # a 256×192 crop is small; analyze also decodes on its own thread

# The instructions that decide the choice (and that `squatpose info` lists), by canonical name.
X86_VNNI = ("avx512_vnni", "avx_vnni", "amx_int8")
X86_RELEVANT = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")
ARM_RELEVANT = ("neon", "dotprod", "i8mm")
RELEVANT = X86_RELEVANT + ARM_RELEVANT


@dataclass(frozen=True)
class CpuDescription:
    machine: str                 # platform.machine(): x86_64, AMD64, aarch64, arm64, ...
    model: str                   # the CPU's name, for people
    flags: frozenset[str]        # canonical instruction names (RELEVANT), as far as they could be read
    source: str                  # where they were read: /proc/cpuinfo, sysctl, or "unknown"

    def relevant(self) -> dict[str, bool]:
        """Whether it has each instruction set that matters on its architecture."""
        arch = architecture(self.machine)
        names = X86_RELEVANT if arch == "x86_64" else ARM_RELEVANT if arch == "arm64" else RELEVANT
        return {name: name in self.flags for name in names}


@dataclass(frozen=True)
class RuntimeChoice:
    file: str | None     # a shipped int8 file (weights/...), or None: the float model
    precision: str       # "int8" or "float32"
    threads: int
    reason: str

    def describe(self) -> str:
        what = f"{self.file} ({self.precision})" if self.file else "the float32 model"
        return f"{what}, {self.threads} thread{'s' if self.threads != 1 else ''}: {self.reason}"


def architecture(machine: str) -> str:
    """"x86_64", "arm64" or the lower-cased name of anything else."""
    name = machine.lower()
    if name in ("x86_64", "amd64", "x64", "i386", "i686", "x86"):
        return "x86_64"
    if name in ("aarch64", "arm64", "armv8l", "arm64e"):
        return "arm64"
    return name


def _version(text: str | None) -> tuple[int, ...] | None:
    if not text:
        return None
    parts = re.findall(r"\d+", text)[:2]
    return tuple(int(p) for p in parts) if parts else None


def choose_runtime(flags: frozenset[str] | set[str], ort_version: str | None, machine: str, *,
                   threads: int | None = None, cpus: int = 1) -> RuntimeChoice:
    """The default backend's file, precision and threads for a CPU with instructions `flags` (canonical
    names, see `RELEVANT`), ONNX Runtime `ort_version` (None: not installed) and architecture `machine`.
    `threads`: what the user asked for; else up to MAX_DEFAULT_THREADS of the `cpus` this process may use."""
    n = threads or max(1, min(cpus, MAX_DEFAULT_THREADS))
    arch = architecture(machine)
    version = _version(ort_version)
    if version is None:
        return RuntimeChoice(None, "float32", n,
                             "ONNX Runtime is not installed: PyTorch runs the float model")
    if version < MIN_ORT:
        return RuntimeChoice(None, "float32", n, f"ONNX Runtime {ort_version} is older than the int8 files "
                             f"need ({'.'.join(map(str, MIN_ORT))})")
    if arch == "x86_64":
        vnni = [f for f in X86_VNNI if f in flags]
        if vnni:
            return RuntimeChoice(VNNI_FILE, "int8", n, f"x86 with VNNI ({', '.join(vnni)}): int8 products "
                                 "are summed in 32 bits, exactly, so the 8-bit weights run")
        if not flags:
            return RuntimeChoice(PORTABLE_FILE, "int8", n, "x86 whose instructions could not be read: the "
                                 "7-bit weights, which every x86 kernel sums exactly")
        return RuntimeChoice(PORTABLE_FILE, "int8", n, "x86 without VNNI: its int8 kernel adds pairs of "
                             "products in 16 bits, which 8-bit weights overflow and 7-bit weights cannot")
    if arch == "arm64":
        if "dotprod" in flags:
            extra = " and i8mm" if "i8mm" in flags else ""
            return RuntimeChoice(VNNI_FILE, "int8", n,
                                 f"ARM64 with dot-product instructions (dotprod{extra}): "
                                 "int8 products are summed in 32 bits, exactly and fast")
        return RuntimeChoice(None, "float32", n, "ARM64 without dot-product instructions (or they could not "
                             "be read): int8 would be exact but no speed-up is measured there")
    return RuntimeChoice(None, "float32", n, f"{machine}: no int8 file is measured on this architecture")


def shipped_file(name: str) -> Path:
    """A file shipped beside the built-in weights (it may be absent from a trimmed install)."""
    return Path(str(resources.files("squatpose") / "weights" / name))


# --- this machine -------------------------------------------------------------------------------------------

_LINUX_NAMES = {"avx2": "avx2", "avx512f": "avx512f", "avx512_vnni": "avx512_vnni", "avx_vnni": "avx_vnni",
                "amx_int8": "amx_int8", "asimd": "neon", "neon": "neon", "asimddp": "dotprod", "i8mm": "i8mm"}
_MAC_ARM = {"hw.optional.neon": "neon", "hw.optional.arm.FEAT_DotProd": "dotprod",
            "hw.optional.arm.FEAT_I8MM": "i8mm"}
_MAC_X86 = {"AVX2": "avx2", "AVX512F": "avx512f", "AVX512VNNI": "avx512_vnni", "AVXVNNI": "avx_vnni",
            "AMXINT8": "amx_int8"}


def parse_proc_cpuinfo(text: str) -> tuple[str, frozenset[str]]:
    """/proc/cpuinfo → (CPU name, canonical flags); x86 lists `flags`, ARM64 `Features`."""
    model, flags = "", set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "hardware", "cpu model") and not model:
            model = value.strip()
        elif key in ("flags", "features"):
            flags |= {_LINUX_NAMES[f] for f in value.split() if f in _LINUX_NAMES}
    return model, frozenset(flags)


def _sysctl(name: str) -> str | None:
    try:
        done = subprocess.run(["sysctl", "-n", name], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _mac_description(machine: str) -> CpuDescription:
    model = _sysctl("machdep.cpu.brand_string") or ""
    flags: set[str] = set()
    if architecture(machine) == "arm64":
        flags = {canonical for key, canonical in _MAC_ARM.items() if _sysctl(key) == "1"}
    else:
        words = [*(_sysctl("machdep.cpu.features") or "").split(),
                 *(_sysctl("machdep.cpu.leaf7_features") or "").split()]
        flags = {_MAC_X86[w] for w in words if w in _MAC_X86}
    return CpuDescription(machine, model, frozenset(flags), "sysctl" if model or flags else "unknown")


def read_cpu() -> CpuDescription:
    """This machine's CPU as far as the operating system tells it (empty flags where it does not)."""
    machine = platform.machine() or "unknown"
    if platform.system() == "Darwin":
        return _mac_description(machine)
    try:
        model, flags = parse_proc_cpuinfo(Path("/proc/cpuinfo").read_text())
    except OSError:  # not Linux (Windows: ONNX Runtime reads the instructions itself; we cannot)
        return CpuDescription(machine, platform.processor(), frozenset(), "unknown")
    return CpuDescription(machine, model or platform.processor(), flags, "/proc/cpuinfo")


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity where the system has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def onnxruntime_version() -> str | None:
    from importlib import metadata

    for dist in ("onnxruntime", "onnxruntime-gpu", "onnxruntime-silicon"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def choose_here(threads: int | None = None) -> tuple[RuntimeChoice, CpuDescription]:
    """`choose_runtime` for this machine."""
    cpu = read_cpu()
    return choose_runtime(cpu.flags, onnxruntime_version(), cpu.machine, threads=threads,
                          cpus=usable_cpus()), cpu
