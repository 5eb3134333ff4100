// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import dev.cocosecretfs.platform.Hardening;
import dev.cocosecretfs.platform.ReplyMemory;
import dev.cocosecretfs.platform.NativeMemory;
import jnr.ffi.LibraryLoader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * glibc overwrites a freed reply buffer whatever size a read asks for, and the start-up check that
 * says so tells the truth both ways. Observed from the allocation side, as {@link Hardening} does:
 * under M_PERTURB malloc fills what it hands out of its bins with 0xff, but not what comes back from
 * the per-thread cache, which free does not overwrite either.
 */
@DisplayName("reply memory")
class ReplyMemoryTest {
    static final int M_PERTURB = -6;

    /** Plain malloc and free, to show what a buffer not sized by ReplyMemory gets. */
    public interface Malloc {
        long malloc(long size);

        void free(long p);
    }

    static final Malloc LIBC = LibraryLoader.create(Malloc.class).load("c");

    @BeforeEach
    void perturbOn() {
        assertThat(Sys.C.mallopt(M_PERTURB, 0x100)).isEqualTo(1);
    }

    @AfterEach
    void perturbOff() {
        Sys.C.mallopt(M_PERTURB, 0);
    }

    /** Fills a buffer, frees it, allocates the same size again: true if that comes back all 0xff. */
    static boolean reusedAsPerturbed(long size, boolean padded) {
        long first = padded ? ReplyMemory.allocate(size) : LIBC.malloc(size);
        NativeMemory.fill(first, size, (byte) 0xa5);
        if (padded) {
            ReplyMemory.free(first);
        } else {
            LIBC.free(first);
        }
        long second = padded ? ReplyMemory.allocate(size) : LIBC.malloc(size);
        try {
            for (long i = 0; i < size; i++) {
                if (NativeMemory.getByte(second + i) != (byte) 0xff) {
                    return false;
                }
            }
            return true;
        } finally {
            if (padded) {
                ReplyMemory.free(second);
            } else {
                LIBC.free(second);
            }
        }
    }

    @ParameterizedTest(name = "{0} bytes")
    @ValueSource(longs = {0, 1, 16, 17, 24, 32, 40, 100, 1000, 1032, 1040, 4095, 4096, 4100, 65536, 131072})
    @DisplayName("a reply buffer of any size is overwritten when freed")
    void everySizeIsOverwritten(long size) {
        long p = ReplyMemory.allocate(size);
        assertThat(p).as("the buffer's address").isNotZero();
        ReplyMemory.free(p);
        assertThat(reusedAsPerturbed(size, true)).isTrue();
    }

    @Test
    @DisplayName("control: a plain small malloc goes through the tcache, which free leaves as it was")
    void plainSmallBuffersAreNot() {
        String tunables = System.getenv("GLIBC_TUNABLES");
        assumeFalse(tunables != null && tunables.contains("tcache_count=0"), "skipped: the tcache is off here");
        assertThat(reusedFromCacheOnce(24)).isTrue();
        assertThat(reusedFromCacheOnce(1000)).isTrue();
    }

    /**
     * True if one of a few plain malloc/free/malloc rounds comes back unperturbed, from the tcache. A
     * single round can be fooled the other way: the JVM may take the freed chunk for itself on this
     * thread between the free and the second malloc (seen once in five runs of a test class mix), and
     * the second malloc then comes from the bins. Without a tcache every round comes back perturbed.
     */
    static boolean reusedFromCacheOnce(long size) {
        for (int round = 0; round < 5; round++) {
            if (!reusedAsPerturbed(size, false)) {
                return true;
            }
        }
        return false;
    }

    @Test
    @DisplayName("the start-up check: true with M_PERTURB, false without")
    void startUpCheckTellsTheTruth() {
        assertThat(Hardening.freedRepliesAreOverwritten()).isTrue();
        assertThat(Sys.C.mallopt(M_PERTURB, 0)).isEqualTo(1);
        assertThat(Hardening.freedRepliesAreOverwritten()).isFalse();
    }
}
