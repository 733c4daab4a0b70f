"""The default backend's choice of model file by CPU, given the CPU's description (not this machine's)."""
import logging
import platform

import pytest

from squatpose.pose.runtime_choice import (
    PORTABLE_FILE,
    VNNI_FILE,
    CpuDescription,
    choose_runtime,
    parse_proc_cpuinfo,
    read_cpu,
    shipped_file,
)

# /proc/cpuinfo lines as Linux writes them (shortened): an AVX2 EPYC without VNNI, a Graviton2 (ARMv8.2 with
# dot product), a Raspberry Pi 4 (Cortex-A72: no dot product).
X86_AVX2 = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B12
flags\t\t: fpu vme sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 bmi2 sha_ni
"""
ARM_DOTPROD = """processor\t: 0
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp ssbs
CPU implementer\t: 0x41
CPU part\t: 0xd0c
"""  # noqa: E501 - a real /proc/cpuinfo, lines as they come
ARM_NO_DOTPROD = """processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid
CPU part\t: 0xd08
"""


def test_x86_without_vnni_gets_the_7bit_file():
    choice = choose_runtime(frozenset({"avx2", "avx512f"}), "1.32.0", "x86_64")
    assert (choice.file, choice.precision) == (PORTABLE_FILE, "int8")
    assert "without VNNI" in choice.reason and "16 bits" in choice.reason


def test_x86_with_vnni_gets_the_8bit_file():
    for vnni in ("avx512_vnni", "avx_vnni", "amx_int8"):
        choice = choose_runtime(frozenset({"avx2", vnni}), "1.32.0", "AMD64")   # Windows spells it AMD64
        assert (choice.file, choice.precision) == (VNNI_FILE, "int8"), vnni
        assert vnni in choice.reason


def test_x86_whose_instructions_are_unknown_gets_the_file_exact_everywhere():
    choice = choose_runtime(frozenset(), "1.32.0", "AMD64")
    assert (choice.file, choice.precision) == (PORTABLE_FILE, "int8")


def test_arm_with_dot_product_gets_the_8bit_file():
    for machine in ("aarch64", "arm64"):   # Linux, macOS
        choice = choose_runtime(frozenset({"neon", "dotprod", "i8mm"}), "1.32.0", machine)
        assert (choice.file, choice.precision) == (VNNI_FILE, "int8")
        assert "dotprod and i8mm" in choice.reason


def test_arm_without_dot_product_runs_float():
    choice = choose_runtime(frozenset({"neon"}), "1.32.0", "aarch64")
    assert (choice.file, choice.precision) == (None, "float32")
    assert "without dot-product" in choice.reason


def test_other_architectures_and_missing_onnxruntime_run_float():
    assert choose_runtime(frozenset(), "1.32.0", "ppc64le").file is None
    assert choose_runtime(frozenset({"avx512_vnni"}), None, "x86_64").precision == "float32"
    old = choose_runtime(frozenset({"avx512_vnni"}), "1.16.3", "x86_64")
    assert old.file is None and "older" in old.reason


def test_threads_are_the_users_else_up_to_four_cpus():
    assert choose_runtime(frozenset(), "1.32.0", "x86_64", threads=3, cpus=16).threads == 3
    assert choose_runtime(frozenset(), "1.32.0", "x86_64", cpus=2).threads == 2
    assert choose_runtime(frozenset(), "1.32.0", "x86_64", cpus=64).threads == 4


def test_proc_cpuinfo_is_read_on_x86_and_arm():
    assert parse_proc_cpuinfo(X86_AVX2) == ("AMD EPYC 7B12", frozenset({"avx2"}))
    assert parse_proc_cpuinfo(ARM_DOTPROD)[1] == frozenset({"neon", "dotprod"})
    assert parse_proc_cpuinfo(ARM_NO_DOTPROD)[1] == frozenset({"neon"})
    for text, expected in ((X86_AVX2, PORTABLE_FILE), (ARM_DOTPROD, VNNI_FILE), (ARM_NO_DOTPROD, None)):
        machine = "x86_64" if "flags" in text else "aarch64"
        assert choose_runtime(parse_proc_cpuinfo(text)[1], "1.32.0", machine).file == expected


def test_this_machine_is_described():
    cpu = read_cpu()
    assert cpu.machine == platform.machine()
    if platform.system() == "Linux":
        assert cpu.source == "/proc/cpuinfo"
    assert set(cpu.relevant()) and all(isinstance(v, bool) for v in cpu.relevant().values())


def test_both_int8_files_are_shipped():
    assert shipped_file(VNNI_FILE).is_file() and shipped_file(PORTABLE_FILE).is_file()


@pytest.mark.parametrize("flags, expected", [({"avx2"}, PORTABLE_FILE), ({"avx2", "avx512_vnni"}, VNNI_FILE)])
def test_the_default_backend_runs_the_chosen_file(flags, expected, monkeypatch, caplog, tmp_path):
    """The whole path: a described CPU → the runner on that shipped file, and a log line that says why."""
    from squatpose.pose import runtime_choice
    from squatpose.pose.checkpoint import load_model
    from squatpose.pose.predictor import default_checkpoint, make_runner

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(runtime_choice, "read_cpu",
                        lambda: CpuDescription("x86_64", "test CPU", frozenset(flags), "test"))
    with caplog.at_level(logging.INFO, logger="squatpose.pose.predictor"):
        runner, backend, precision = make_runner(load_model(default_checkpoint()), "auto", None, 1)
    assert (backend, precision) == ("onnx", "int8")
    assert runner.path.name == expected
    assert f"default backend on test CPU: {expected} (int8), 1 thread" in caplog.text


def test_info_says_what_the_default_runs_here_without_importing_torch(capsys):
    import json
    import subprocess
    import sys

    from squatpose.cli import main
    from squatpose.pose.runtime_choice import choose_here

    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    choice, cpu = choose_here()
    default = info["default_backend"]
    assert (default["precision"], default["threads"], default["why"]) == (choice.precision, choice.threads,
                                                                          choice.reason)
    if choice.file:
        assert default["model_file"].endswith(choice.file) and default["backend"] == "onnx"
    assert info["cpu"]["instructions"] == cpu.relevant()
    assert info["versions"]["onnxruntime"] and info["versions"]["numpy"] and info["squatpose"]
    assert main(["info"]) == 0
    assert f"why: {choice.reason}" in capsys.readouterr().out
    code = "import sys; from squatpose.cli import main; main(['info']); assert 'torch' not in sys.modules"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
