"""The llama.cpp build check: a library's instruction sets against a CPU's, and the installed one here."""

from __future__ import annotations

import sys

from agent.llm.build import (
    PORTABLE_ARGS,
    cmake_args,
    compiled_features,
    cpu_flags,
    is_x86,
    judge,
    system_info,
    wheel_dir,
)

NATIVE_ON_AMX = ("CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX_VNNI = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | "
                 "AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | AMX_INT8 = 1 | LLAMAFILE = 1 | "
                 "OPENMP = 1 | REPACK = 1 |")  # fmt: skip
PORTABLE = ("CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | LLAMAFILE = 1 | "
            "OPENMP = 1 | REPACK = 1 |")
AVX2_CPU = frozenset(["fpu", "sse", "sse2", "pni", "ssse3", "sse4_1", "sse4_2", "avx", "f16c", "fma", "bmi1", "avx2",
                      "bmi2"])  # fmt: skip
AMX_CPU = AVX2_CPU | {"avx512f", "avx512vbmi", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8",
                      "amx_bf16"}  # fmt: skip


def test_system_info_is_read_into_instruction_sets() -> None:
    assert compiled_features(PORTABLE) == {"SSE3", "SSSE3", "AVX", "AVX2", "F16C", "FMA", "BMI2", "LLAMAFILE",
                                           "OPENMP", "REPACK"}  # fmt: skip
    assert "AVX512" not in compiled_features("AVX512 = 0 | AVX2 = 1")


def test_cpu_flags_come_from_the_flags_line() -> None:
    info = "processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu avx2 fma\nbugs\t\t: spectre_v1\n"
    assert cpu_flags(info) == {"fpu", "avx2", "fma"}
    assert cpu_flags("no flags here") == frozenset()


def test_a_library_built_for_avx512_is_refused_on_an_avx2_cpu() -> None:
    verdict = judge(compiled_features(NATIVE_ON_AMX), AVX2_CPU)
    assert not verdict.ok
    assert "AVX512" in verdict.detail and "SIGILL" in verdict.detail
    assert "make reinstall-llama" in verdict.fix


def test_a_library_with_amx_is_refused_even_on_an_amx_cpu() -> None:
    verdict = judge(compiled_features(NATIVE_ON_AMX), AMX_CPU)
    assert not verdict.ok and "AMX_INT8" in verdict.detail
    assert "make reinstall-llama" in verdict.fix


def test_the_portable_library_suits_both_cpus() -> None:
    for cpu in (AVX2_CPU, AMX_CPU):
        assert judge(compiled_features(PORTABLE), cpu).ok


def test_targets_and_their_wheel_directories(tmp_path) -> None:  # type: ignore[no-untyped-def]
    if is_x86():
        assert cmake_args("portable") == PORTABLE_ARGS
        assert "-DGGML_NATIVE=OFF" in PORTABLE_ARGS and "-DGGML_AMX_INT8=OFF" in PORTABLE_ARGS
    assert cmake_args("portable", "-DGGML_CPU_REPACK=OFF") == "-DGGML_CPU_REPACK=OFF"
    portable = wheel_dir("portable", PORTABLE_ARGS, tmp_path)
    assert portable == wheel_dir("portable", PORTABLE_ARGS, tmp_path)  # the same key on every CPU: safe to share
    assert "-cpu-" in wheel_dir("native", "-DGGML_NATIVE=ON", tmp_path).name  # a native wheel is this CPU's only
    assert wheel_dir("custom", "-DX=1", tmp_path) != wheel_dir("custom", "-DX=2", tmp_path)


def test_the_installed_library_suits_this_cpu() -> None:
    """What `make install` built: read in a child process, judged against /proc/cpuinfo."""
    info, code, error = system_info(sys.executable)
    assert info is not None, f"llama_cpp failed to load in a child process (exit {code}): {error}"
    verdict = judge(compiled_features(info), cpu_flags())
    assert verdict.ok, verdict.detail
    if is_x86():  # the default install is the portable target: nothing beyond x86-64-v3
        assert not compiled_features(info) & {"AVX512", "AMX_INT8", "AVX_VNNI"}, info
