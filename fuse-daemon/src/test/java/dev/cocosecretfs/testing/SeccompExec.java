// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.testing;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;

/**
 * Runs a command under a seccomp filter that refuses, with EPERM, exactly the two calls the daemon's
 * first hardening guards make: {@code setrlimit(RLIMIT_CORE, ...)} (glibc's setrlimit is the
 * prlimit64 system call) and {@code prctl(PR_SET_DUMPABLE, ...)}. This is a real way for those guards
 * to fail, the way a container runtime's or systemd's system-call filter can make them fail.
 *
 * <p>{@code java -cp ... SeccompExec PROGRAM ARGS...}: installs the filter on this thread (after
 * no_new_privs, as an unprivileged filter needs) and execs PROGRAM, which inherits it. x86-64 only.
 */
public final class SeccompExec {
    /** The C calls this needs. */
    public interface C {
        int prctl(int option, long arg2, long arg3, long arg4, long arg5);

        int execv(String path, Pointer argv);

        String strerror(int errno);
    }

    private static final int PR_SET_NO_NEW_PRIVS = 38;
    private static final int PR_SET_SECCOMP = 22;
    private static final int SECCOMP_MODE_FILTER = 2;
    private static final int PR_SET_DUMPABLE = 4;
    private static final int RLIMIT_CORE = 4;
    private static final int AUDIT_ARCH_X86_64 = 0xc000003e;
    private static final int NR_PRCTL = 157;
    private static final int NR_SETRLIMIT = 160;
    private static final int NR_PRLIMIT64 = 302;
    private static final int LD_W_ABS = 0x20;
    private static final int JEQ_K = 0x15;
    private static final int RET_K = 0x06;
    private static final int RET_ALLOW = 0x7fff0000;
    private static final int RET_EPERM = 0x00050000 | 1;
    /** struct seccomp_data: nr at 0, arch at 4, args[i] at 16 + 8 i (the low half, on little-endian x86-64). */
    private static final int NR = 0;
    private static final int ARCH = 4;
    private static final int ARG0 = 16;
    private static final int ARG1 = 24;

    /** {code, jt, jf, k}: jumps count the instructions to skip. */
    private static final int[][] FILTER = {
        {LD_W_ABS, 0, 0, ARCH},
        {JEQ_K, 0, 10, AUDIT_ARCH_X86_64}, // other architectures: allow (index 12)
        {LD_W_ABS, 0, 0, NR},
        {JEQ_K, 2, 0, NR_PRCTL}, // -> 6
        {JEQ_K, 3, 0, NR_SETRLIMIT}, // -> 8
        {JEQ_K, 4, 6, NR_PRLIMIT64}, // -> 10, else allow
        {LD_W_ABS, 0, 0, ARG0},
        {JEQ_K, 5, 4, PR_SET_DUMPABLE}, // -> deny (13) or allow (12)
        {LD_W_ABS, 0, 0, ARG0},
        {JEQ_K, 3, 2, RLIMIT_CORE},
        {LD_W_ABS, 0, 0, ARG1},
        {JEQ_K, 1, 0, RLIMIT_CORE},
        {RET_K, 0, 0, RET_ALLOW},
        {RET_K, 0, 0, RET_EPERM},
    };

    private SeccompExec() {}

    public static void main(String[] args) {
        C c = LibraryLoader.create(C.class).load("c");
        Runtime runtime = Runtime.getRuntime(c);
        Pointer filter = Memory.allocateDirect(runtime, FILTER.length * 8);
        for (int i = 0; i < FILTER.length; i++) {
            filter.putShort(i * 8L, (short) FILTER[i][0]);
            filter.putByte(i * 8L + 2, (byte) FILTER[i][1]);
            filter.putByte(i * 8L + 3, (byte) FILTER[i][2]);
            filter.putInt(i * 8L + 4, FILTER[i][3]);
        }
        Pointer program = Memory.allocateDirect(runtime, 16); // struct sock_fprog { u16 len; filter* }
        program.putShort(0, (short) FILTER.length);
        program.putAddress(8, filter.address());
        check(c, c.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)");
        check(c, c.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, program.address(), 0, 0), "prctl(PR_SET_SECCOMP)");

        Pointer argv = Memory.allocateDirect(runtime, (args.length + 1L) * 8);
        Pointer[] strings = new Pointer[args.length];
        for (int i = 0; i < args.length; i++) {
            byte[] utf8 = args[i].getBytes(StandardCharsets.UTF_8);
            byte[] bytes = Arrays.copyOf(utf8, utf8.length + 1);
            strings[i] = Memory.allocateDirect(runtime, bytes.length);
            strings[i].put(0, bytes, 0, bytes.length);
            argv.putAddress(i * 8L, strings[i].address());
        }
        argv.putAddress(args.length * 8L, 0);
        c.execv(args[0], argv);
        System.err.println("execv " + args[0] + ": " + c.strerror(Runtime.getRuntime(c).getLastError()));
        System.exit(127);
    }

    private static void check(C c, int result, String what) {
        if (result != 0) {
            System.err.println(what + ": " + c.strerror(Runtime.getRuntime(c).getLastError()));
            System.exit(126);
        }
    }
}
