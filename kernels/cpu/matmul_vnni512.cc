// matmul_vnni.cc's kernels for CPUs with AVX512-VNNI and AVX512VL but not the VEX AVX-VNNI
// (Zen 4, Ice Lake and Sapphire Rapids servers): the EVEX vpdpbusd on 256-bit registers, the
// same integers as the VEX form, so Avx512VnniKernels() gives the AvxVnniKernels() bits.
#if defined(__x86_64__) && defined(__GNUC__)
#define G4_VNNI __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512vnni")))
#define G4_DPBUSD _mm256_dpbusd_epi32
// 32 vector registers: the panel-pair kernel (KernelTable::dot_packed_pair) fits.
#define G4_VNNI_PAIR 1
#endif
#define G4_VNNI_TABLE Avx512VnniKernels
#include "matmul_vnni.cc"  // NOLINT(bugprone-suspicious-include): the second build of that file
