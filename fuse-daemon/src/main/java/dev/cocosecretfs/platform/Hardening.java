// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.platform;

import java.util.ArrayList;
import java.util.List;

/**
 * Process settings that keep secrets from leaking out of the daemon's memory: no core dumps, no
 * ptrace or /proc/PID/mem by other processes of the same user, and freed heap memory overwritten by
 * glibc. Secret bytes themselves never reach memory that is freed uncleared: a read goes into the
 * worker thread's own reply buffer ({@link ReplyBuffer}), which is zeroed right after the reply;
 * M_PERTURB is for everything else that passes through malloc (libfuse's requests, names).
 *
 * <p>Memory is deliberately not locked (no mlockall): a secret is in the daemon's memory only while
 * one read is being answered, never after, which the mount tests check by scanning the whole
 * process; locking the JVM's address space would pin hundreds of megabytes and fail under the
 * default RLIMIT_MEMLOCK of non-root users.
 */
public final class Hardening {
    private static final int PR_SET_DUMPABLE = 4;
    private static final int RLIMIT_CORE = 4;
    /** glibc's mallopt parameter that fills freed chunks with a byte. */
    private static final int M_PERTURB = -6;
    /** Freed memory becomes this byte; allocated memory its complement, 0xff. */
    private static final int PERTURB_BYTE = 0x00;

    private Hardening() {}

    /**
     * The three guards, each reporting whether it took: the process's own calls in production, a fake in
     * tests (a guard that fails cannot be provoked on demand on every machine).
     */
    public interface Guards {
        /** setrlimit(RLIMIT_CORE, {0, 0}): 0, or -1 with errno set. */
        int noCoreDumps();

        /** prctl(PR_SET_DUMPABLE, 0): 0, or -1 with errno set. */
        int notDumpable();

        /** mallopt(M_PERTURB, ...): 1 on success, 0 on failure (glibc sets no errno). */
        int perturbFreedMemory();

        /** The text for the errno the last failed call left. */
        String lastError();
    }

    /** The guards as this process applies them. */
    public static final Guards PROCESS = new Guards() {
        @Override
        public int noCoreDumps() {
            return Native.libc().setrlimit(RLIMIT_CORE, new long[] {0, 0});
        }

        @Override
        public int notDumpable() {
            return Native.libc().prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        }

        @Override
        public int perturbFreedMemory() {
            // glibc perturbs with (value & 0xff); 0 would mean "off", so ask for 0x100, which fills with 0x00.
            return Native.libc().mallopt(M_PERTURB, 0x100 | PERTURB_BYTE);
        }

        @Override
        public String lastError() {
            return Native.describe(Native.errno());
        }
    };

    /** {@link #apply(Guards)} for this process. */
    public static List<String> apply() {
        return apply(PROCESS);
    }

    /**
     * Applies every guard, in order, and says which failed. A failure does not stop the others: the
     * caller decides whether a process that lacks one may serve secrets (the daemon refuses unless told
     * {@code --allow-weak-hardening}).
     *
     * @return one line per guard that failed, naming it and what it leaves open; empty if all took
     */
    public static List<String> apply(Guards guards) {
        List<String> failed = new ArrayList<>();
        if (guards.noCoreDumps() != 0) {
            failed.add("setrlimit(RLIMIT_CORE, 0) failed (" + guards.lastError() + "): a crash could write secrets"
                    + " to a core file");
        }
        if (guards.notDumpable() != 0) {
            failed.add("prctl(PR_SET_DUMPABLE, 0) failed (" + guards.lastError() + "): processes of the same user"
                    + " could read this one's memory");
        }
        if (guards.perturbFreedMemory() != 1) {
            failed.add("mallopt(M_PERTURB) failed: freed memory is not overwritten");
        }
        return List.copyOf(failed);
    }
}
