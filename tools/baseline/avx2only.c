// avx2only.so: run a program as if its CPU had no AVX-512 and no AMX, so
// that a rival that picks its kernels from CPUID (ONNX Runtime's MLAS) runs
// its AVX2 ones on a machine that has AVX-512. run.sh --isa avx2 preloads it
// into ORT while ours runs with DISTILBERT_KERNELS=avx2.
//
//   cc -O2 -shared -fPIC -o avx2only.so avx2only.c
//   LD_PRELOAD=./avx2only.so node ort_bench.js ...
//   cc -O2 -DAVX2ONLY_PROBE -o avx2only-probe avx2only.c && ./avx2only-probe
//
// How: Linux's CPUID faulting (arch_prctl ARCH_SET_CPUID 0, the cpuid_fault
// flag in /proc/cpuinfo) makes every CPUID instruction of the process raise
// SIGSEGV. The handler runs the real CPUID with faulting briefly off, clears
// the AVX-512 and AMX feature bits and steps over the instruction. The
// setting is per thread and inherited by threads created later, so it is
// switched on in a constructor, before the program starts any. The dynamic
// loader reads CPUID before any constructor runs, so glibc's own string
// functions are kept off AVX-512 with GLIBC_TUNABLES (avx2only.sh sets it).
// The program keeps its own SIGSEGV handling: sigaction is interposed, so a
// handler it installs for SIGSEGV (Node resets every signal at start-up, V8
// adds its own) is recorded and called for every fault that is not CPUID,
// while the kernel keeps calling this one first.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef ARCH_GET_CPUID
#define ARCH_GET_CPUID 0x1011
#define ARCH_SET_CPUID 0x1012
#endif

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
static sigaction_fn real_sigaction;
static struct sigaction program_handler; // what the program believes SIGSEGV runs
static int installed;
static volatile sig_atomic_t masked_calls;

static void real_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

// mask clears what an AVX2 CPU lacks: every AVX-512 subset and AMX in leaf 7,
// and the AVX-512 and AMX state components that leaf 0xD advertises.
static void mask(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
	if (leaf == 7 && sub == 0) {
		// EBX: F 16, DQ 17, IFMA 21, PF 26, ER 27, CD 28, BW 30, VL 31.
		r[1] &= ~((1u << 16) | (1u << 17) | (1u << 21) | (1u << 26) | (1u << 27) | (1u << 28) | (1u << 30) | (1u << 31));
		// ECX: VBMI 1, VBMI2 6, VNNI 11, BITALG 12, VPOPCNTDQ 14.
		r[2] &= ~((1u << 1) | (1u << 6) | (1u << 11) | (1u << 12) | (1u << 14));
		// EDX: 4VNNIW 2, 4FMAPS 3, VP2INTERSECT 8, AMX-BF16 22, FP16 23, AMX-TILE 24, AMX-INT8 25.
		r[3] &= ~((1u << 2) | (1u << 3) | (1u << 8) | (1u << 22) | (1u << 23) | (1u << 24) | (1u << 25));
	} else if (leaf == 7 && sub == 1) {
		// EAX: AVX512-BF16 5.
		r[0] &= ~(1u << 5);
	} else if (leaf == 0xD && sub == 0) {
		// EAX: opmask 5, ZMM_Hi256 6, Hi16_ZMM 7, XTILECFG 17, XTILEDATA 18.
		r[0] &= ~((1u << 5) | (1u << 6) | (1u << 7) | (1u << 17) | (1u << 18));
	}
}

static void on_segv(int sig, siginfo_t *info, void *ctx) {
	ucontext_t *uc = ctx;
	greg_t *g = uc->uc_mcontext.gregs;
	const unsigned char *ip = (const unsigned char *)g[REG_RIP];
	if (info->si_code == SI_KERNEL && ip[0] == 0x0f && ip[1] == 0xa2) {
		uint32_t r[4];
		uint32_t leaf = (uint32_t)g[REG_RAX], sub = (uint32_t)g[REG_RCX];
		syscall(SYS_arch_prctl, ARCH_SET_CPUID, 1);
		real_cpuid(leaf, sub, r);
		syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0);
		mask(leaf, sub, r);
		g[REG_RAX] = r[0];
		g[REG_RBX] = r[1];
		g[REG_RCX] = r[2];
		g[REG_RDX] = r[3];
		g[REG_RIP] += 2;
		masked_calls++;
		return;
	}
	if (program_handler.sa_flags & SA_SIGINFO) {
		program_handler.sa_sigaction(sig, info, ctx);
		return;
	}
	if (program_handler.sa_handler != SIG_DFL && program_handler.sa_handler != SIG_IGN) {
		program_handler.sa_handler(sig);
		return;
	}
	// A real fault the program does not handle: returning re-runs the
	// instruction, which now dies of it as it would have without us.
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	real_sigaction(sig, &dfl, NULL);
}

int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
	if (!real_sigaction)
		real_sigaction = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
	if (sig != SIGSEGV || !installed)
		return real_sigaction(sig, act, old);
	if (old)
		*old = program_handler;
	if (act)
		program_handler = *act;
	return 0;
}

__attribute__((constructor)) static void avx2only_start(void) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	real_sigaction = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
	if (!real_sigaction || real_sigaction(SIGSEGV, &sa, &program_handler) != 0 || syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0) != 0) {
		fprintf(stderr, "avx2only: this kernel or CPU has no CPUID faulting (cpuid_fault); cannot hide AVX-512\n");
		_exit(3);
	}
	installed = 1;
}

#ifdef AVX2ONLY_PROBE
// The same file built as a program (cc -DAVX2ONLY_PROBE) checks the masking:
// exit 0 when leaf 7 shows AVX2 and no AVX-512F.
int main(void) {
	uint32_t r[4];
	real_cpuid(7, 0, r);
	int avx2 = (r[1] >> 5) & 1, avx512f = (r[1] >> 16) & 1;
	printf("avx2only: leaf 7 shows avx2=%d avx512f=%d (%d CPUID calls masked)\n", avx2, avx512f, (int)masked_calls);
	return avx2 && !avx512f ? 0 : 1;
}
#endif
