// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.fuse;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("handover state")
class HandoverStateTest {
    private static final HandoverState STATE = new HandoverState(Path.of("/run/coco"), "0:57",
            Path.of("/dev/coco_secret"), new byte[] {1, 2, 3, 0, (byte) 0xff});

    @Test
    @DisplayName("decodes to what was encoded, paths with any characters included")
    void roundTrips() {
        assertThat(HandoverState.decode(STATE.encode())).contains(STATE);
        HandoverState odd = new HandoverState(Path.of("/tmp/a b/\u00e9\n"), "0:1", Path.of("/x"), new byte[0]);
        assertThat(HandoverState.decode(odd.encode())).contains(odd);
    }

    @Test
    @DisplayName("anything else is no state: another magic, a cut, a length past the end, bytes left over")
    void refusesAnythingElse() {
        byte[] good = STATE.encode();
        assertThat(HandoverState.decode(new byte[0])).isEmpty();
        byte[] otherMagic = good.clone();
        otherMagic[0] ^= 1;
        assertThat(HandoverState.decode(otherMagic)).isEmpty();
        for (int cut = 1; cut < good.length; cut++) {
            assertThat(HandoverState.decode(Arrays.copyOf(good, cut))).as("cut at %s", cut).isEmpty();
        }
        assertThat(HandoverState.decode(Arrays.copyOf(good, good.length + 1))).isEmpty();
    }

    @Test
    @DisplayName("the INIT bytes are copied in and out: the record cannot be changed through them")
    void copiesTheInit() {
        byte[] init = {9, 9};
        HandoverState s = new HandoverState(Path.of("/m"), "0:2", Path.of("/p"), init);
        init[0] = 0;
        s.init()[1] = 0;
        assertThat(s.init()).containsExactly(9, 9);
    }
}
