// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.platform;

/**
 * Process settings that keep secrets from leaking out of the daemon's memory: no core dumps, no
 * ptrace by other processes of the same user, and freed heap memory overwritten by glibc.
 */
public final class Hardening {
    private static final System.Logger LOG = System.getLogger(Hardening.class.getName());

    private static final int PR_SET_DUMPABLE = 4;
    private static final int RLIMIT_CORE = 4;
    /** glibc's mallopt parameter that fills freed chunks with a byte. */
    private static final int M_PERTURB = -6;
    /** Freed memory becomes this byte; allocated memory its complement, 0xff. */
    private static final int PERTURB_BYTE = 0x00;

    private Hardening() {}

    /** Applies every setting; one that fails is logged and the rest still applied. */
    public static void apply() {
        LibC libc = Native.libc();
        if (libc.setrlimit(RLIMIT_CORE, new long[] {0, 0}) != 0) {
            warn("setrlimit(RLIMIT_CORE, 0)");
        }
        if (libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
            warn("prctl(PR_SET_DUMPABLE, 0)");
        }
        // glibc perturbs with (value & 0xff); 0 would mean "off", so ask for 0x100, which fills with 0x00.
        if (libc.mallopt(M_PERTURB, 0x100 | PERTURB_BYTE) != 1) {
            warn("mallopt(M_PERTURB)");
        }
    }

    private static void warn(String call) {
        LOG.log(System.Logger.Level.WARNING, "{0} failed: {1}", call, Native.describe(Native.errno()));
    }
}
