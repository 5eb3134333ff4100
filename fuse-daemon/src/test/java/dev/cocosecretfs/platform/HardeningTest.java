// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.platform;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Each guard that fails is reported, by name, and does not keep the others from being applied. */
class HardeningTest {
    enum Guard { CORE, DUMPABLE, PERTURB }

    /** Guards that all take but one. */
    static final class OneFails implements Hardening.Guards {
        final Guard failing;
        int applied;

        OneFails(Guard failing) {
            this.failing = failing;
        }

        @Override
        public int noCoreDumps() {
            applied++;
            return failing == Guard.CORE ? -1 : 0;
        }

        @Override
        public int notDumpable() {
            applied++;
            return failing == Guard.DUMPABLE ? -1 : 0;
        }

        @Override
        public int perturbFreedMemory() {
            applied++;
            return failing == Guard.PERTURB ? 0 : 1;
        }

        @Override
        public String lastError() {
            return "Operation not permitted";
        }
    }

    @ParameterizedTest
    @EnumSource(Guard.class)
    @DisplayName("a failing guard is reported and the others still applied")
    void eachFailureIsReported(Guard guard) {
        OneFails guards = new OneFails(guard);
        assertThat(Hardening.apply(guards)).singleElement().asString().contains(switch (guard) {
            case CORE -> "setrlimit(RLIMIT_CORE, 0) failed (Operation not permitted)";
            case DUMPABLE -> "prctl(PR_SET_DUMPABLE, 0) failed (Operation not permitted)";
            case PERTURB -> "mallopt(M_PERTURB) failed";
        });
        assertThat(guards.applied).isEqualTo(3);
    }

    @Test
    void allTakeNothingIsReported() {
        OneFails guards = new OneFails(null);
        assertThat(Hardening.apply(guards)).isEmpty();
        assertThat(guards.applied).isEqualTo(3);
    }
}
